package dev.migrationd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import dev.migrationd.daemon.TwoDaemons;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Ctrl-C during {@code migrationctl migrate}, in a separate process as a person would meet it: under a
 * real terminal (a pty from util-linux {@code script}) it asks, and "c" cancels the migration (exit 5,
 * the domain stays on the source); without a terminal it detaches (exit 130) and the migration goes on.
 */
class CtrlCTest {

    @TempDir
    static Path dir;
    static TwoDaemons daemons;

    @BeforeAll
    static void start() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/script")),
                "this test needs util-linux 'script' (/usr/bin/script) for a pseudo-terminal");
        daemons = new TwoDaemons(dir);
    }

    @AfterAll
    static void stop() {
        if (daemons != null) {
            daemons.close();
        }
    }

    private static String ctl(int expected, String... args) {
        CommandLine cl = MigrationCtl.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        assertEquals(expected, code, String.join(" ", args) + "\n" + out + err);
        return out.toString();
    }

    /** A slow migration: 128 MiB over a 4 MiB/s link takes half a minute, plenty of time to interrupt it. */
    private static List<String> migrateCommand(String domain) {
        ctl(0, "domain", "create", domain, "--daemon", daemons.aAddr(), "--memory", "128MiB", "--vcpus", "1",
                "--type", "hvm", "--fill", "random", "--dirty-rate", "0", "--working-set", "25%", "--pattern", "ab");
        List<String> cmd = new ArrayList<>();
        // a shell that started the test run in the background (`bin/test &`, nohup) left SIGINT ignored, and a
        // JVM keeps an inherited ignore: give the CLI the default action back, as a terminal's shell would
        cmd.addAll(List.of("/usr/bin/env", "--default-signal=INT"));
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(MigrationCtl.class.getName());
        cmd.addAll(List.of("migrate", domain, "--to", "hostB", "--daemon", daemons.aAddr(), "--bandwidth", "4MiB/s"));
        return cmd;
    }

    @Test
    void underATerminalCtrlCAsksAndCancelCancels() throws Exception {
        List<String> migrate = migrateCommand("ctrlc1");
        String shellCommand = String.join(" ", migrate.stream().map(CtrlCTest::quote).toList());
        // script gives the CLI a pty; -e returns the CLI's exit code; -q prints no banner
        Process script = new ProcessBuilder("/usr/bin/script", "-qfec", shellCommand, "/dev/null")
                .redirectErrorStream(true).start();
        try {
            Output out = new Output(script.getInputStream());
            out.await("pre-copy to begin", "round", 60);
            ProcessHandle cli = script.descendants().filter(p -> p.info().command().orElse("").endsWith("/java"))
                    .findFirst().orElseThrow(() -> new AssertionError("no migrationctl JVM under script"));
            new ProcessBuilder("kill", "-INT", Long.toString(cli.pid())).start().waitFor();
            out.await("the Ctrl-C question", "[c]ancel it", 30);
            OutputStream terminal = script.getOutputStream();
            terminal.write("c\n".getBytes(StandardCharsets.US_ASCII));
            terminal.flush();
            assertTrue(script.waitFor(60, TimeUnit.SECONDS), "migrationctl did not end after the cancel:\n" + out.text());
            assertEquals(ExitCode.CANCELLED, script.exitValue(), out.text());
            assertTrue(out.text().contains("CANCELLED"), out.text());
        } finally {
            script.descendants().forEach(ProcessHandle::destroyForcibly);
            script.destroyForcibly();
        }
        String onA = ctl(0, "domains", "--daemon", daemons.aAddr(), "--format", "json");
        String onB = ctl(0, "domains", "--daemon", daemons.bAddr(), "--format", "json");
        assertTrue(onA.lines().anyMatch(l -> l.contains("\"name\":\"ctrlc1\"") && l.contains("DOMAIN_STATE_RUNNING")),
                "the domain runs on the source: " + onA);
        assertTrue(!onB.contains("\"ctrlc1\""), "nothing left on the destination: " + onB);
    }

    @Test
    void withoutATerminalCtrlCDetachesAndTheMigrationGoesOn() throws Exception {
        Process cli = new ProcessBuilder(migrateCommand("ctrlc2")).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        String id;
        try {
            Output out = new Output(cli.getInputStream());
            out.await("pre-copy to begin", "round", 60);
            new ProcessBuilder("kill", "-INT", Long.toString(cli.pid())).start().waitFor();
            assertTrue(cli.waitFor(30, TimeUnit.SECONDS), "migrationctl did not detach:\n" + out.text());
            assertEquals(ExitCode.INTERRUPTED, cli.exitValue(), out.text());
            assertTrue(out.text().contains("detached; migration "), out.text());
            id = out.text().replaceAll("(?s).*started migration ([0-9a-f-]{36}).*", "$1");
            assertEquals(36, id.length(), out.text());
        } finally {
            cli.destroyForcibly();
        }
        String status = ctl(0, "status", id, "--daemon", daemons.aAddr(), "--format", "json");
        assertTrue(status.contains("PHASE_PRECOPY") || status.contains("PHASE_STOP_AND_COPY"),
                "the migration goes on after the CLI detached: " + status);
        ctl(0, "cancel", id, "--daemon", daemons.aAddr());
    }

    /** A slow save: 128 MiB written at 4 MiB/s takes half a minute. */
    private static List<String> saveCommand(String domain, Path file) {
        List<String> cmd = new ArrayList<>(migrateCommand(domain));
        int verb = cmd.indexOf("migrate");
        cmd.subList(verb, cmd.size()).clear();
        cmd.addAll(List.of("save", domain, file.toString(), "--daemon", daemons.aAddr(), "--bandwidth", "4MiB/s"));
        return cmd;
    }

    @Test
    void underATerminalCtrlCCancelsASaveAndTheDomainRunsOnWithNoFile() throws Exception {
        Path file = dir.resolve("ctrlc3.save");
        String shellCommand = String.join(" ", saveCommand("ctrlc3", file).stream().map(CtrlCTest::quote).toList());
        Process script = new ProcessBuilder("/usr/bin/script", "-qfec", shellCommand, "/dev/null")
                .redirectErrorStream(true).start();
        try {
            Output out = new Output(script.getInputStream());
            out.await("the save to start writing", "phase STOP_AND_COPY", 60);
            ProcessHandle cli = script.descendants().filter(p -> p.info().command().orElse("").endsWith("/java"))
                    .findFirst().orElseThrow(() -> new AssertionError("no migrationctl JVM under script"));
            new ProcessBuilder("kill", "-INT", Long.toString(cli.pid())).start().waitFor();
            out.await("the Ctrl-C question", "save ", 30);
            out.await("the Ctrl-C question", "[c]ancel it", 30);
            OutputStream terminal = script.getOutputStream();
            terminal.write("c\n".getBytes(StandardCharsets.US_ASCII));
            terminal.flush();
            assertTrue(script.waitFor(60, TimeUnit.SECONDS), "migrationctl did not end after the cancel:\n" + out.text());
            assertEquals(ExitCode.CANCELLED, script.exitValue(), out.text());
            assertTrue(out.text().contains(": CANCELLED"), out.text());
            assertTrue(out.text().contains("no file was written; the domain is as it was before the save"), out.text());
        } finally {
            script.descendants().forEach(ProcessHandle::destroyForcibly);
            script.destroyForcibly();
        }
        String onA = ctl(0, "domains", "--daemon", daemons.aAddr(), "--format", "json");
        assertTrue(onA.lines().anyMatch(l -> l.contains("\"name\":\"ctrlc3\"") && l.contains("DOMAIN_STATE_RUNNING")),
                "the domain runs on: " + onA);
        assertTrue(Files.notExists(file) && Files.notExists(file.resolveSibling("ctrlc3.save.partial")),
                "a cancelled save leaves no file");
    }

    @Test
    void withoutATerminalCtrlCDetachesASaveAndSaysTheDomainWillBeDestroyed() throws Exception {
        Path file = dir.resolve("ctrlc4.save");
        Process cli = new ProcessBuilder(saveCommand("ctrlc4", file)).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        String id;
        try {
            Output out = new Output(cli.getInputStream());
            out.await("the save to start writing", "phase STOP_AND_COPY", 60);
            new ProcessBuilder("kill", "-INT", Long.toString(cli.pid())).start().waitFor();
            assertTrue(cli.waitFor(30, TimeUnit.SECONDS), "migrationctl did not detach:\n" + out.text());
            assertEquals(ExitCode.INTERRUPTED, cli.exitValue(), out.text());
            id = out.text().replaceAll("(?s).*started save ([0-9a-f-]{36}).*", "$1");
            assertEquals(36, id.length(), out.text());
            // the operator is told that the guest is going away, and how to follow or stop that
            assertTrue(out.text().contains("detached; save " + id + " goes on in the daemon (unless it is cancelled or fails,"
                    + " the file is written and the domain destroyed"), out.text());
            assertTrue(out.text().contains("'migrationctl watch " + id + "'") && out.text().contains("'migrationctl cancel " + id + "'"),
                    out.text());
        } finally {
            cli.destroyForcibly();
        }
        String status = ctl(0, "status", id, "--daemon", daemons.aAddr(), "--format", "json");
        assertTrue(status.contains("DIRECTION_SAVE") && status.contains("PHASE_STOP_AND_COPY"),
                "the save goes on after the CLI detached: " + status);
        String cancel = ctl(0, "cancel", id, "--daemon", daemons.aAddr());
        assertTrue(cancel.contains("cancelled"), cancel);
        String watch = ctl(ExitCode.CANCELLED, "watch", id, "--daemon", daemons.aAddr());
        assertTrue(watch.contains("save " + id + " ctrlc4 hostA -> " + file + ": CANCELLED"), watch);
        assertTrue(Files.notExists(file), "a cancelled save leaves no file");
        String onA = ctl(0, "domains", "--daemon", daemons.aAddr(), "--format", "json");
        assertTrue(onA.lines().anyMatch(l -> l.contains("\"name\":\"ctrlc4\"") && l.contains("DOMAIN_STATE_RUNNING")),
                "the domain runs on after the cancel: " + onA);
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** Collects a process's output on a reader thread (owned by this object) so the test can wait for text. */
    private static final class Output {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        Output(InputStream in) {
            Thread.ofPlatform().daemon().start(() -> {
                byte[] buf = new byte[4096];
                try {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        synchronized (bytes) {
                            bytes.write(buf, 0, n);
                        }
                    }
                } catch (IOException e) {
                    // the process ended
                }
            });
        }

        String text() {
            synchronized (bytes) {
                return bytes.toString(StandardCharsets.UTF_8);
            }
        }

        void await(String what, String marker, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (!text().contains(marker)) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("waited " + seconds + " s for " + what + "; output so far:\n" + text());
                }
                Thread.sleep(50);
            }
        }
    }
}
