package dev.migrationd.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One host of a scenario: a real {@code migrationd} process (sim backend) in its network namespace, and its
 * state directory on a {@code faultfs} mount (a pass-through FUSE file system whose writes can be made to
 * fail: full disk or I/O errors) with the sim backend's domain files on a tmpfs mounted at
 * {@code <state-dir>/sim}; the guests' memory is in /dev/shm, where the sim keeps it. Both are kept off the
 * faulty file system on purpose: on a real host the guest's RAM and the hypervisor's own state are not in the
 * daemon's state directory, so "the state directory is full" must mean "the journal cannot be written", not
 * "the guest's memory cannot be paged in". {@link #release()} removes the host's guest memory from /dev/shm.
 *
 * <p>The process state ({@link #state()}) is what the {@link CopyChecker} reads to tell a guest whose
 * daemon is stopped or dead (it does not execute in the sim, but would on a real hypervisor) from a guest
 * that is paused.
 *
 * <p>Threading: driven by the runner thread; {@link #kill}, {@link #stop} and {@link #cont} may also be
 * called from a proxy pump thread (a fault at a frame), so the process and state are volatile and those
 * methods are synchronized.
 */
final class Host {

    enum State { DOWN, UP, STOPPED, DEAD }

    static final int PEER_PORT = 7101;
    static final int METRICS_PORT = 9101;
    /** Longest a daemon may take to start (JVM start, journal recovery) on a loaded 2-core machine. */
    static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    /** SIGTERM grace: the daemon waits up to its close-wait ({@link Config#CLOSE_WAIT}) for migrations; then SIGKILL. */
    static final Duration TERM_TIMEOUT = Config.CLOSE_WAIT.plusSeconds(10);
    static final String TMPFS_SIZE = "384m";
    /** Where the sim backend keeps guest memory, and the prefix of its directories there. */
    private static final Path SHM = Path.of("/dev/shm");
    private static final String SIM_MEMORY_PREFIX = "migrationd-sim-";
    /** How long the end of a scenario waits for a daemon's clean exit before SIGKILL. */
    static final Duration RELEASE_WAIT = Duration.ofSeconds(10);

    final String name;
    final String ns;
    final String ip;
    final Path dir;
    final Path stateDir;
    final Path log;
    private final Path backing;
    private final Path modeFile;
    private final Path faultfsLog;
    private final List<String> peers;
    private final Timeline timeline;
    private final Map<String, String> env = new LinkedHashMap<>();
    private volatile Process daemon;
    private volatile Process faultfs;
    private volatile State state = State.DOWN;
    /** When the daemon was stopped or died (nanoTime), or -1 while it is up: the start of a hold. */
    private volatile long downSince = -1;
    private int starts;

    Host(String name, String ns, String ip, Path scenarioDir, List<String> peers, Timeline timeline) {
        this.name = name;
        this.ns = ns;
        this.ip = ip;
        this.dir = scenarioDir.resolve(name);
        this.stateDir = dir.resolve("state");
        this.backing = dir.resolve("state.backing");
        this.modeFile = dir.resolve("state.mode");
        this.faultfsLog = dir.resolve("faultfs.log");
        this.log = dir.resolve("daemon.log");
        this.peers = peers;
        this.timeline = timeline;
    }

    /**
     * The daemon's control address: a Unix socket under the suite's base directory (short, whatever the scenario's
     * name). The daemon runs in its own network namespace but shares the file system, so the runner, as root, reaches
     * it there as an operator; plaintext TCP on the namespace's address would be refused (not loopback).
     */
    String control() {
        return "unix:" + Config.base().resolve("control").resolve(name + ".sock");
    }

    State state() {
        return state;
    }

    Path simDir() {
        return stateDir.resolve("sim");
    }

    /** Failpoints for the next start ({@code MIGRATIOND_FAILPOINTS}); empty for none. */
    void failpoints(String spec) {
        if (spec == null || spec.isEmpty()) {
            env.remove("MIGRATIOND_FAILPOINTS");
        } else {
            env.put("MIGRATIOND_FAILPOINTS", spec);
        }
    }

    /** Mounts the state directory (faultfs) and the guest memory tmpfs. */
    void prepare(Path faultfsScript) throws IOException, InterruptedException {
        Files.createDirectories(backing);
        Files.createDirectories(stateDir);
        Files.writeString(modeFile, "ok\n");
        faultfs = new ProcessBuilder("/usr/bin/python3", faultfsScript.toString(), backing.toString(), stateDir.toString(),
                modeFile.toString()).redirectErrorStream(true).redirectOutput(faultfsLog.toFile()).start();
        Pids.record(faultfs.pid());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!Lab.mountsUnder(stateDir).contains(stateDir)) {
            if (!faultfs.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("faultfs did not mount " + stateDir + ": " + Files.readString(faultfsLog));
            }
            Thread.sleep(50);
        }
        Files.createDirectories(simDir());
        Sh.must("mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE + ",mode=0755", "tmpfs-" + name, simDir().toString());
    }

    /** What the state directory's file system does with writes from now on: ok, enospc or eio. */
    void diskMode(String mode) {
        try {
            Files.writeString(modeFile, mode + "\n");
        } catch (IOException e) {
            throw new IllegalStateException("cannot set the disk mode of " + name + ": " + e.getMessage(), e);
        }
        timeline.mark(name + " disk " + mode);
    }

    /** Starts the daemon and waits until it serves its control API. */
    synchronized void start() throws IOException, InterruptedException {
        if (daemon != null && daemon.isAlive()) {
            throw new IllegalStateException(name + " is already running");
        }
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + ns, "--",
                Config.java(), "--enable-native-access=ALL-UNNAMED", "-Xmx192m", "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Dfaults.run=" + dir,
                // a class-data archive per host name, made by the first clean exit and reused: quicker starts
                "-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + Config.base().resolve(name + ".jsa"),
                "-Xlog:cds=off", "-Xlog:cds+dynamic=off",
                "-cp", Config.daemonClasspath(), "dev.migrationd.daemon.MigrationDaemon",
                "--name", name, "--state-dir", stateDir.toString(),
                "--control-listen", control(), "--peer-listen", ip + ":" + PEER_PORT,
                "--metrics-listen", ip + ":" + METRICS_PORT));
        cmd.addAll(Config.timeoutFlags());
        cmd.addAll(Config.peerLinkFlags());
        for (String p : peers) {
            cmd.add("--peer");
            cmd.add(p);
            cmd.add("--peer-allow");
            cmd.add(p.substring(0, p.indexOf('=')) + "=" + Config.PEER_PERMISSIONS);
        }
        long offset = Files.exists(log) ? Files.size(log) : 0;
        starts++;
        Files.writeString(log, "---- fault-suite: start " + starts + (env.isEmpty() ? "" : " " + env) + " ----\n",
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        Pids.record(p.pid());
        daemon = p;
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            String s = readFrom(offset);
            if (s.contains("event=daemon_started")) {
                state = State.UP;
                timeline.mark(name + " up");
                endHold();
                return;
            }
            if (!p.isAlive()) {
                state = State.DEAD;
                throw new IllegalStateException(name + " exited " + p.exitValue() + " while starting:\n" + tail(s, 15));
            }
            if (System.nanoTime() > deadline) {
                kill();
                throw new IllegalStateException(name + " did not start within " + START_TIMEOUT.toSeconds() + " s:\n" + tail(s, 15));
            }
            Thread.sleep(50);
        }
    }

    /** SIGKILL, and waits until the process is gone. */
    synchronized void kill() {
        Process p = daemon;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroyForcibly(); // SIGKILL ends a stopped process too, without letting it run first
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException(name + " survived SIGKILL for 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        state = State.DEAD;
        beginHold();
        timeline.mark(name + " killed");
    }

    /** SIGSTOP: the process (and, in the sim, its guest's vCPUs) stops; the kernel still holds its sockets. */
    synchronized void stop() {
        Process p = daemon;
        if (p == null || !p.isAlive()) {
            throw new IllegalStateException(name + " is not running; cannot stop it");
        }
        Sh.must("kill", "-STOP", Long.toString(p.pid()));
        state = State.STOPPED;
        beginHold();
        timeline.mark(name + " stopped");
    }

    synchronized void cont() {
        Process p = daemon;
        if (p == null || !p.isAlive() || state != State.STOPPED) {
            return;
        }
        Sh.must("kill", "-CONT", Long.toString(p.pid()));
        state = State.UP;
        timeline.mark(name + " continued");
        endHold();
    }

    /** SIGTERM (the daemon's clean stop), SIGKILL after {@link #TERM_TIMEOUT}. */
    void term() throws InterruptedException {
        Process p = daemon;
        if (p == null || !p.isAlive()) {
            return;
        }
        cont();
        p.destroy();
        if (!p.waitFor(TERM_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
        }
        state = State.DOWN;
        beginHold();
        timeline.mark(name + " terminated");
    }

    /** Whether the process exited by itself (a crash failpoint); its exit status, or -1 while alive. */
    int exitStatus() {
        Process p = daemon;
        return p == null || p.isAlive() ? -1 : p.exitValue();
    }

    /** Notices a daemon that exited by itself (a crash failpoint) so the checker treats it as dead. */
    synchronized void noticeExit() {
        Process p = daemon;
        if (p != null && !p.isAlive() && state == State.UP) {
            state = State.DEAD;
            beginHold();
            timeline.mark(name + " exited " + p.exitValue());
        }
    }

    private void beginHold() {
        if (downSince < 0) {
            downSince = System.nanoTime();
        }
    }

    private void endHold() {
        long since = downSince;
        if (since >= 0) {
            timeline.hold(since, System.nanoTime(), name + " down");
            downSince = -1;
        }
    }

    /** Closes a hold still open at the end of a scenario (a daemon never brought back). */
    void closeHold() {
        endHold();
    }

    boolean alive() {
        Process p = daemon;
        return p != null && p.isAlive();
    }

    String log() {
        return readFrom(0);
    }

    private String readFrom(long offset) {
        try {
            byte[] all = Files.readAllBytes(log);
            return new String(all, (int) Math.min(offset, all.length), (int) (all.length - Math.min(offset, all.length)),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Whether this host's daemon logged {@code event=failpoint_hit name=<failpoint>}. */
    boolean failpointHit(String failpoint) {
        return log().contains("event=failpoint_hit name=" + failpoint + " ");
    }

    /** Entries of the state directory other than the journal and the sim mount. */
    List<String> strayStateFiles(List<String> allowed) throws IOException {
        try (Stream<Path> s = Files.list(stateDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !allowed.contains(n)).sorted().toList();
        }
    }

    /** The sim backend's domain directories (including half-built {@code .creating-*} and {@code .destroying-*}). */
    List<String> simDomainDirs() throws IOException {
        if (!Files.isDirectory(simDir())) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(simDir())) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Removes the journal, as a wiped or replaced disk would (daemon must be down). */
    void loseJournal() throws IOException {
        if (alive()) {
            throw new IllegalStateException(name + " must be down to lose its journal");
        }
        try (Stream<Path> s = Files.list(stateDir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("migrations.journal")).toList()) {
                Files.delete(p);
            }
        }
        timeline.mark(name + " journal lost");
    }

    /**
     * Stops the daemon (SIGTERM, then SIGKILL after {@link #RELEASE_WAIT}: a clean exit also writes the
     * class-data archive the next starts use) and faultfs, unmounts; keeps the logs. Never throws.
     */
    void release() {
        try {
            Process p = daemon;
            if (p != null && p.isAlive() && state == State.UP) {
                p.destroy();
                p.waitFor(RELEASE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            }
            kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
        } catch (RuntimeException e) {
            System.err.println("fault-suite: " + name + ": " + e.getMessage());
        }
        Lab.unmountAll(stateDir);
        removeGuestMemory();
        Process f = faultfs;
        if (f != null) {
            f.destroy();
            try {
                if (!f.waitFor(10, TimeUnit.SECONDS)) {
                    f.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                f.destroyForcibly();
            }
        }
        state = State.DOWN;
    }

    /** The sim's guest memory directories in /dev/shm whose owner file names this host's sim directory. */
    private void removeGuestMemory() {
        String owner = simDir().toAbsolutePath().normalize().toString();
        try (Stream<Path> dirs = Files.list(SHM)) {
            for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith(SIM_MEMORY_PREFIX)).toList()) {
                Path ownerFile = d.resolve("owner");
                if (Files.isRegularFile(ownerFile) && Files.readString(ownerFile).lines().findFirst().orElse("").equals(owner)) {
                    try (Stream<Path> files = Files.walk(d)) {
                        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                            Files.deleteIfExists(p);
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("fault-suite: " + name + ": cannot remove its guest memory from " + SHM + ": " + e.getMessage());
        }
    }

    static String tail(String text, int lines) {
        List<String> l = text.lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size()));
    }
}
