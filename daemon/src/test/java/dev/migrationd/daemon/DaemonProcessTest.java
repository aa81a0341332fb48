package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * migrationd as a process (the test's JDK and class path): it starts, logs where it listens, stops
 * cleanly on SIGTERM with exit 0, and refuses bad setups promptly with one line and a non-zero exit.
 */
class DaemonProcessTest {

    static final long START_SECONDS = 60;

    @TempDir
    Path dir;

    private Process launch(Path log, String... args) throws IOException {
        return launch(log, java.util.Map.of(), args);
    }

    private Process launch(Path log, java.util.Map<String, String> env, String... args) throws IOException {
        return launch(log, env, List.of(), args);
    }

    private Process launch(Path log, java.util.Map<String, String> env, List<String> prefix, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                // the daemon's own logback.xml, not the test one
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                MigrationDaemon.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    private static String waitFor(Path log, String text, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < deadline) {
            String s = Files.exists(log) ? Files.readString(log) : "";
            if (s.contains(text)) {
                return s;
            }
            if (!p.isAlive()) {
                throw new AssertionError("exited " + p.exitValue() + " before '" + text + "':\n" + s);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no '" + text + "' in " + START_SECONDS + "s:\n" + Files.readString(log));
    }

    private Path config() throws Exception {
        Path c = dir.resolve("migrationd.conf");
        var tls = TestCerts.host(dir.resolve("tls"), "hostA");
        Files.writeString(c, """
                name = hostA
                state-dir = %s
                control-listen = 127.0.0.1:0
                peer-listen = 127.0.0.1:0
                metrics-listen = 127.0.0.1:0
                peer.hostB = 127.0.0.1:7201
                peer.hostB.allow = migrate,query
                tls-ca = %s
                tls-cert = %s
                tls-key = %s
                """.formatted(dir.resolve("state"), tls.ca(), tls.cert(), tls.key()));
        return c;
    }

    /** The same settings without the TLS lines. */
    private Path configWithoutTls() throws Exception {
        Path c = dir.resolve("plain.conf");
        Files.writeString(c, Files.readString(config()).lines().filter(l -> !l.startsWith("tls-"))
                .collect(java.util.stream.Collectors.joining("\n", "", "\n")));
        return c;
    }

    @Test
    void startsLogsAndStopsCleanlyOnSigterm() throws Exception {
        Path log = dir.resolve("daemon.log");
        var hostX = TestCerts.host(dir.resolve("tls"), "hostX");
        Process p = launch(log, "--config", config().toString(), "--name", "hostX", "--tls-cert", hostX.cert().toString(),
                "--tls-key", hostX.key().toString());
        try {
            String started = waitFor(log, "event=daemon_started", p);
            assertTrue(started.contains("name=hostX"), "the flag overrides the file:\n" + started);
            assertTrue(started.contains("event=peer_tls_ready provider="), "the TLS provider is logged:\n" + started);
            assertTrue(!started.contains("peer_link_insecure"), started);

            // SIGHUP re-reads the TLS files
            assertEquals(0, new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).start().waitFor());
            waitFor(log, "event=peer_tls_reloaded cert_names=hostX", p);
            assertTrue(started.contains("event=control_listening"), started);
            assertTrue(started.contains("event=peer_server_listening"), started);
            assertTrue(started.contains("event=metrics_listening"), started);
            for (String line : started.lines().toList()) {
                assertTrue(line.startsWith("ts=") && line.contains(" level=") && line.contains(" event="),
                        "one key=value line per event: " + line);
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "did not stop within 30s of SIGTERM");
            assertEquals(0, p.exitValue());
            String all = Files.readString(log);
            assertTrue(all.contains("event=daemon_stopping") && all.contains("event=daemon_stopped"), all);
        } finally {
            p.destroyForcibly();
        }
    }

    private String failFast(String... args) throws Exception {
        Path log = dir.resolve("fail-" + System.nanoTime() + ".log");
        Process p = launch(log, args);
        assertTrue(p.waitFor(START_SECONDS, TimeUnit.SECONDS), "did not exit");
        String out = Files.readString(log).strip();
        assertTrue(p.exitValue() != 0, "exit code 0:\n" + out);
        List<String> errors = out.lines().filter(l -> l.startsWith("migrationd: ")).toList();
        assertEquals(1, errors.size(), "one line saying why:\n" + out);
        return errors.getFirst() + " (exit " + p.exitValue() + ")";
    }

    /**
     * A journal damaged in the middle (a valid record after an invalid one) stops the daemon with one line naming
     * the offset and the repair; --journal-repair keeps the whole file, cuts the journal and exits 0; then the
     * daemon starts.
     */
    @Test
    void aJournalDamagedInTheMiddleStopsTheStartUntilJournalRepair() throws Exception {
        Path conf = config();
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        try (var j = new dev.migrationd.daemon.engine.journal.Journal(state)) {
            for (var s : List.of(dev.migrationd.daemon.engine.journal.Journal.State.STARTED,
                    dev.migrationd.daemon.engine.journal.Journal.State.FAILED)) {
                j.append(new dev.migrationd.daemon.engine.journal.Journal.Entry(java.time.Instant.now(), "m1",
                        dev.migrationd.daemon.engine.journal.Journal.Role.SOURCE, s, java.util.Map.of("domain", "g")));
            }
        }
        Path journal = state.resolve(dev.migrationd.daemon.engine.journal.Journal.FILE_NAME);
        byte[] bad = Files.readAllBytes(journal);
        bad[30] ^= 0x01; // inside the first record's payload; the second stays valid
        Files.write(journal, bad);
        String refused = failFast("--config", conf.toString());
        assertTrue(refused.contains("is damaged at byte offset 16 ") && refused.contains("--journal-repair")
                && refused.endsWith("(exit 1)"), refused);
        assertArrayEquals(bad, Files.readAllBytes(journal), "nothing changed");

        Path repairLog = dir.resolve("repair.log");
        Process repair = launch(repairLog, "--config", conf.toString(), "--journal-repair");
        assertTrue(repair.waitFor(START_SECONDS, TimeUnit.SECONDS), "did not exit");
        String out = Files.readString(repairLog);
        assertEquals(0, repair.exitValue(), out);
        assertTrue(out.contains("migrationd: journal " + journal + " cut at byte offset 16"), out);
        assertEquals(16, Files.size(journal));
        try (var s = Files.list(state)) {
            Path kept = s.filter(p -> p.getFileName().toString().startsWith("migrations.journal.damaged-")).findFirst().orElseThrow();
            assertArrayEquals(bad, Files.readAllBytes(kept), "the whole damaged file is kept");
        }

        Path log = dir.resolve("after-repair.log");
        Process p = launch(log, "--config", conf.toString());
        try {
            waitFor(log, "event=daemon_started", p);
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "did not stop within 30s of SIGTERM");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void badSetupsFailWithOneLine() throws Exception {
        String unknown = failFast("--config", config().toString(), "--backend", "vmware");
        assertTrue(unknown.contains("unknown backend 'vmware'") && unknown.endsWith("(exit 2)"), unknown);

        Path bad = dir.resolve("bad.conf");
        Files.writeString(bad, "name = a\nlisten = 1.2.3.4:5\n");
        String key = failFast("--config", bad.toString());
        assertTrue(key.contains("line 2: unknown key 'listen'") && key.endsWith("(exit 2)"), key);

        String addr = failFast("--config", config().toString(), "--peer-listen", "127.0.0.1:99999");
        assertTrue(addr.contains("port must be 0..65535") && addr.endsWith("(exit 2)"), addr);

        String timeout = failFast("--config", config().toString(), "--handshake-timeout", "soon");
        assertTrue(timeout.contains("--handshake-timeout: handshake-timeout 'soon': expected a whole number and a unit")
                && timeout.endsWith("(exit 2)"), timeout);

        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String inUse = failFast("--config", config().toString(), "--control-listen", "127.0.0.1:" + taken.getLocalPort());
            assertTrue(inUse.contains("cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (control-listen): address already in use")
                    && inUse.endsWith("(exit 1)"), inUse);
        }
    }

    /**
     * MIGRATIOND_FAILPOINTS at start: a malformed list or an unknown name is a configuration error (one line, exit 2, nothing
     * started); an armed list is announced by a warning written in the log format asked for, which shows that
     * the check logs only after the format is chosen.
     */
    @Test
    void failpointsAreRefusedWhenMalformedAndAnnouncedInTheChosenLogFormat() throws Exception {
        Path bad = dir.resolve("bad-failpoints.log");
        Process refused = launch(bad, java.util.Map.of("MIGRATIOND_FAILPOINTS", "journal.force=explode"),
                "--config", config().toString());
        assertTrue(refused.waitFor(START_SECONDS, TimeUnit.SECONDS), "did not exit");
        String out = Files.readString(bad).strip();
        assertEquals(MigrationDaemon.EXIT_CONFIG, refused.exitValue(), out);
        List<String> errors = out.lines().filter(l -> l.startsWith("migrationd: ")).toList();
        assertEquals(1, errors.size(), "one line saying why:\n" + out);
        assertTrue(errors.getFirst().startsWith("migrationd: MIGRATIOND_FAILPOINTS") && errors.getFirst().contains("explode"),
                errors.getFirst());
        assertTrue(!out.contains("event=daemon_started") && !out.contains("\"daemon_started"), out);

        // a misspelt name would silently inject nothing: refused at start, named, with the known ones
        Path typo = dir.resolve("typo-failpoints.log");
        Process unknown = launch(typo, java.util.Map.of("MIGRATIOND_FAILPOINTS", "journal.after-force.COMMITED=crash"),
                "--config", config().toString());
        assertTrue(unknown.waitFor(START_SECONDS, TimeUnit.SECONDS), "did not exit");
        String typoOut = Files.readString(typo).strip();
        assertEquals(MigrationDaemon.EXIT_CONFIG, unknown.exitValue(), typoOut);
        List<String> typoErrors = typoOut.lines().filter(l -> l.startsWith("migrationd: ")).toList();
        assertEquals(1, typoErrors.size(), "one line saying why:\n" + typoOut);
        assertTrue(typoErrors.getFirst().startsWith("migrationd: MIGRATIOND_FAILPOINTS: unknown failpoint journal.after-force.COMMITED")
                && typoErrors.getFirst().contains("journal.after-force.COMMITTED"), typoErrors.getFirst());
        assertTrue(!typoOut.contains("daemon_started"), typoOut);

        Path log = dir.resolve("armed.log");
        Process p = launch(log, java.util.Map.of("MIGRATIOND_FAILPOINTS", "handover.dest.before-unpause=sleep:1"),
                "--config", config().toString(), "--log-format", "json");
        try {
            String started = waitFor(log, "daemon_started", p);
            List<String> armed = started.lines().filter(l -> l.contains("failpoints_armed")).toList();
            assertEquals(1, armed.size(), started);
            assertTrue(armed.getFirst().startsWith("{") && armed.getFirst().endsWith("}"),
                    "a JSON object like every other line: " + armed.getFirst());
            assertTrue(armed.getFirst().contains("handover.dest.before-unpause"), armed.getFirst());
            assertTrue(started.lines().noneMatch(l -> l.startsWith("ts=")), "no text line before the format was chosen:\n" + started);
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "did not stop within 30s of SIGTERM");
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void thePeerLinkIsTlsUnlessPlaintextIsAskedForLoudly() throws Exception {
        String none = failFast("--config", configWithoutTls().toString());
        assertTrue(none.contains("the peer link needs mutual TLS: set tls-ca, tls-cert and tls-key") && none.contains("--insecure-peer-link")
                && none.endsWith("(exit 2)"), none);
        var tls = TestCerts.host(dir.resolve("tls"), "hostA");
        String partial = failFast("--config", configWithoutTls().toString(), "--tls-ca", tls.ca().toString(),
                "--tls-cert", tls.cert().toString());
        assertTrue(partial.contains("TLS settings are incomplete: tls-key is missing") && partial.endsWith("(exit 2)"), partial);
        String wrongName = failFast("--config", config().toString(), "--name", "hostZ");
        assertTrue(wrongName.contains("names hostA (subjectAltName DNS), not this daemon's name hostZ") && wrongName.endsWith("(exit 1)"),
                wrongName);

        Path log = dir.resolve("insecure.log");
        Process p = launch(log, "--config", configWithoutTls().toString(), "--insecure-peer-link");
        try {
            String started = waitFor(log, "event=daemon_started", p);
            assertTrue(started.contains("level=WARN") && started.contains("event=peer_link_insecure")
                    && started.contains("PLAINTEXT PEER LINK"), started);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("event=metrics_listening address=[^0-9]*([0-9.]+:\\d+)").matcher(started);
            assertTrue(m.find(), started);
            var client = java.net.http.HttpClient.newHttpClient();
            String scrape = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + m.group(1) + "/metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(scrape.lines().anyMatch(l -> l.startsWith("migrationd_peer_link_insecure{") && l.endsWith(" 1.0")), scrape);
        } finally {
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    @Test
    void xenOffADom0SaysSoAndDoesNotFallBack() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.exists(Path.of("/dev/xen/privcmd")), "this host is a Xen dom0");
        long t0 = System.nanoTime();
        String xen = failFast("--config", config().toString(), "--backend", "xen");
        assertTrue(xen.startsWith("migrationd: backend xen: ") && xen.endsWith("(exit 3)"), xen);
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30), "promptly");
    }

    /**
     * As systemd runs it (Type=notify): READY=1 arrives once every listener is bound, SIGHUP re-reads the
     * config between RELOADING=1 and READY=1 without stopping, SIGTERM says STOPPING=1. The notify socket is
     * bound by python3, as systemd binds its own.
     */
    @Test
    void tellsSystemdWhenReadyReloadsOnSighupAndSaysWhenStopping() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assertTrue(Files.isExecutable(python), "python3 is missing (Debian package python3); this test needs it");
        Path socket = dir.resolve("notify.sock");
        Process systemd = new ProcessBuilder(python.toString(), "-c", """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(sys.argv[1])
                print('bound', flush=True)
                while True:
                    print(repr(s.recv(8192).decode()), flush=True)
                """, socket.toString()).redirectErrorStream(true).start();
        Notes notes = new Notes(systemd.getInputStream());
        Path log = dir.resolve("daemon.log");
        Process p = null;
        try {
            assertEquals("bound", notes.readLine());
            Path config = config();
            // SIGHUP as systemd leaves it (a test run started under nohup would have it ignored, and kept so)
            p = launch(log, java.util.Map.of("NOTIFY_SOCKET", socket.toString()), List.of("/usr/bin/env", "--default-signal=HUP"),
                    "--config", config.toString());
            String ready = notes.readLine();
            assertTrue(ready != null && ready.startsWith("'READY=1\\nSTATUS=control "), ready + "\n" + Files.readString(log));
            // every listener is bound when READY=1 is sent
            String started = Files.readString(log);
            assertTrue(started.contains("event=daemon_started"), started);
            java.util.regex.Matcher ports = java.util.regex.Pattern.compile("control 127\\.0\\.0\\.1:(\\d+), peers (\\d+), metrics (\\d+)")
                    .matcher(ready);
            assertTrue(ports.find(), ready);
            for (int i = 1; i <= 3; i++) {
                try (java.net.Socket c = new java.net.Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(ports.group(i)))) {
                    assertTrue(c.isConnected());
                }
            }

            Files.writeString(config, Files.readString(config).replace("name = hostA", "name = hostZ")
                    + "peer.hostC = 127.0.0.1:7301\n");
            new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).start().waitFor();
            assertTrue(notes.readLine().startsWith("'RELOADING=1\\nMONOTONIC_USEC="));
            assertEquals("'READY=1'", notes.readLine());
            String reloaded = waitFor(log, "event=config_reloaded", p);
            assertTrue(reloaded.contains("peers=hostB,hostC"), reloaded);
            assertTrue(reloaded.contains("restart_needed_for=name ") || reloaded.contains("restart_needed_for=name\n"), reloaded);
            assertTrue(p.isAlive(), "SIGHUP must not stop the daemon");

            // a broken file changes nothing and is reported
            Files.writeString(config, "nonsense\n");
            new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).start().waitFor();
            assertTrue(notes.readLine().startsWith("'RELOADING=1"));
            assertEquals("'READY=1'", notes.readLine());
            assertTrue(waitFor(log, "event=config_reload_failed", p).contains("expected 'key = value'"));
            assertTrue(p.isAlive());

            p.destroy(); // SIGTERM
            assertEquals("'STOPPING=1'", notes.readLine());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "did not stop within 30s of SIGTERM");
            assertEquals(0, p.exitValue());
        } finally {
            if (p != null) {
                p.destroyForcibly();
            }
            systemd.destroyForcibly();
        }
    }

    /** The lines a process prints, each waited for at most {@link #START_SECONDS}. */
    static final class Notes {
        private final java.util.concurrent.BlockingQueue<String> lines = new java.util.concurrent.LinkedBlockingQueue<>();

        Notes(java.io.InputStream in) {
            Thread.ofVirtual().start(() -> {
                try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            });
        }

        String readLine() throws InterruptedException {
            String l = lines.poll(START_SECONDS, TimeUnit.SECONDS);
            if (l == null) {
                throw new AssertionError("nothing on the notify socket within " + START_SECONDS + " s");
            }
            return l;
        }
    }
}
