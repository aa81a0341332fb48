package dev.migrationd.daemon.e2e;

import dev.migrationd.daemon.TestCerts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One migrationd daemon as a separate JVM process ({@link ObservedDaemon}: the real daemon plus memory
 * hashes on stdout), sim backend, its output in a log file. Its peer port is fixed by the caller so that a
 * restart on the same state directory is reachable at the same address; the control port is chosen by
 * the daemon and read from its log.
 *
 * <p>Threading: used by the test thread; {@link #kill()} may also be called from a proxy thread.
 */
final class DaemonProcess implements AutoCloseable {

    static final long START_SECONDS = 90;
    private static final Pattern CONTROL = Pattern.compile("event=control_listening address=[0-9.]+:(\\d+)");
    private static final Pattern HASH = Pattern.compile("e2e_memory_hash side=(\\w+) migration=(\\S+) domain=\\S+ hash=([0-9a-f]+)");

    final String name;
    final Path stateDir;
    final int peerPort;
    final List<String> peers;
    /** Further daemon flags, after the standard ones. */
    private final List<String> extraArgs;
    private final Path log;
    private volatile Process process;
    private int controlPort;
    private int starts;

    private DaemonProcess(String name, Path stateDir, int peerPort, List<String> peers, Path log, List<String> extraArgs) {
        this.extraArgs = List.copyOf(extraArgs);
        this.name = name;
        this.stateDir = stateDir;
        this.peerPort = peerPort;
        this.peers = peers;
        this.log = log;
    }

    /** Starts a daemon and waits until it serves its control API. */
    static DaemonProcess start(String name, Path dir, int peerPort, String... peers) throws Exception {
        return start(name, dir, peerPort, List.of(), peers);
    }

    /** As {@link #start(String, Path, int, String...)}, the daemon started with {@code extraArgs} too. */
    static DaemonProcess start(String name, Path dir, int peerPort, List<String> extraArgs, String... peers) throws Exception {
        DaemonProcess d = new DaemonProcess(name, dir.resolve(name), peerPort, List.of(peers), dir.resolve(name + ".log"), extraArgs);
        d.launch();
        return d;
    }

    /** Starts this daemon again on the same state directory, name and ports (after {@link #kill()}). */
    void restart() throws Exception {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(name + " is still running");
        }
        launch();
    }

    private void launch() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"),
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                ObservedDaemon.class.getName(), "--name", name, "--state-dir", stateDir.toString(),
                "--control-listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:" + peerPort, "--metrics-listen", "127.0.0.1:0"));
        for (String p : peers) {
            cmd.add("--peer");
            cmd.add(p);
            cmd.add("--peer-allow");
            cmd.add(p.substring(0, p.indexOf('=')) + "=migrate,query");
        }
        // mutual TLS with certificates made on the fly, one CA for the test's daemons
        cmd.addAll(TestCerts.flags(TestCerts.host(stateDir.resolveSibling("tls"), name)));
        cmd.addAll(extraArgs);
        long offset = Files.exists(log) ? Files.size(log) : 0;
        starts++;
        Files.writeString(log, "---- start " + starts + " ----\n", Files.exists(log)
                ? java.nio.file.StandardOpenOption.APPEND : java.nio.file.StandardOpenOption.CREATE);
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < deadline) {
            String s = Files.readString(log).substring((int) offset);
            Matcher m = CONTROL.matcher(s);
            if (m.find() && s.contains("event=daemon_started")) {
                controlPort = Integer.parseInt(m.group(1));
                return;
            }
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited " + process.exitValue() + " before it started:\n" + s);
            }
            Thread.sleep(100);
        }
        process.destroyForcibly();
        throw new AssertionError(name + " did not start in " + START_SECONDS + "s:\n" + Files.readString(log));
    }

    String addr() {
        return "127.0.0.1:" + controlPort;
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL, and waits until the process is gone. */
    void kill() {
        Process p = process;
        p.destroyForcibly();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError(name + " survived SIGKILL for 30s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** The memory hashes this daemon printed for a migration, by side (source, destination). */
    Map<String, String> hashes(String migrationId) {
        Map<String, String> out = new TreeMap<>();
        Matcher m = HASH.matcher(log());
        while (m.find()) {
            if (m.group(2).equals(migrationId)) {
                out.put(m.group(1), m.group(3));
            }
        }
        return out;
    }

    /**
     * Entries under the sim backend's directory that are domains or domains being built/destroyed
     * (directories, including the hidden {@code .creating-*} and {@code .destroying-*} ones).
     */
    List<String> simDomainDirs() throws IOException {
        Path sim = stateDir.resolve("sim");
        if (!Files.isDirectory(sim)) {
            return List.of();
        }
        try (var s = Files.list(sim)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** SIGTERM and a short wait, then SIGKILL: the test's clean-up, on every path. */
    @Override
    public void close() {
        Process p = process;
        if (p == null) {
            return;
        }
        p.destroy();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
    }
}
