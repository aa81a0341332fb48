package dev.migrationd.faults;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;

/**
 * The exactly-one-copy checker: watches one guest on every host, every {@link #PERIOD}, from the moment the
 * scenario starts the migration until its end, straight from the guest's files, never through a daemon.
 *
 * <h2>What "a running copy" means here</h2>
 * The sim backend runs a guest's vCPUs inside its daemon's process and keeps the guest's state in files
 * under {@code <state-dir>/sim/<domain>/} (guest memory itself is in /dev/shm): the workload's registers
 * ({@code vcpu-registers}, mapped, written by the vCPU after every page it writes) and the run state
 * ({@code domain.properties}, written and fsync'd on every pause and unpause). The checker maps
 * {@code vcpu-registers} read-only and reads the vCPUs' workload counters (pages written since the guest
 * was created; part of the guest's state, so it travels with a migration). A copy on host H is
 * <b>running</b> during a sampling interval when
 * <ul>
 *   <li><b>executing</b>: H's daemon is up and the counter of the same domain instance (same inode)
 *       increased during the interval. The first change of a new instance from 0 to its restored value is
 *       the restore loading state, not execution; or</li>
 *   <li><b>virtually running</b>: H's daemon is stopped (SIGSTOP), dead (SIGKILL, crash) or down, and the
 *       domain's persisted run state is RUNNING. The sim stops such a guest with its daemon, a real
 *       hypervisor would not (a Xen guest runs on while its toolstack daemon is stopped), and the sim
 *       resumes it when the daemon restarts; so for the question "how many copies run" it counts as
 *       running.</li>
 * </ul>
 *
 * <h2>What fails</h2>
 * <ul>
 *   <li><b>Two copies</b>: any interval in which two hosts run the guest, or any guest execution done twice:
 *       the counter ranges each host executed must be disjoint across hosts (a copy resumed from an older
 *       state than the other reached has forked the guest, even if the two never ran at the same instant).
 *       Two hosts executing within one interval with disjoint, ordered counter ranges is a hand-over
 *       inside the interval, counted as one copy.</li>
 *   <li><b>No copy for too long</b>: every interval with no running copy must be at most the migration's
 *       reported downtime (the larger of the source's and the destination's) plus {@link #TOLERANCE};
 *       except an interval that overlaps a hold (a period during which the scenario kept a daemon stopped
 *       or dead, blocked the network, or waited for an operator), which must end within
 *       {@link #RECOVERY} after the hold ended.</li>
 * </ul>
 *
 * <p>Threading: one sampler thread (platform, {@code copy-checker}) owns the per-host views; results are
 * published under this object's lock and read by the runner after {@link #close()}.
 */
final class CopyChecker implements AutoCloseable {

    static final Duration PERIOD = Duration.ofMillis(5);
    /**
     * Slack on top of the reported downtime for an interval without a running copy: sampling (5 ms), the
     * sim's 10 ms vCPU windows, and scheduling and GC stalls of two JVMs on a loaded 2-core machine.
     */
    static final Duration TOLERANCE = Duration.ofMillis(1000);
    /** How soon after a hold ends a copy must run again: a daemon restart's recovery and one in-doubt retry. */
    static final Duration RECOVERY = Duration.ofSeconds(15);
    private static final int REG_STRIDE = 64; // bytes of registers per vCPU; the counter is the first
    private static final int MAX_TRACE = 400;
    /** Gaps longer than this are listed in the trace. */
    private static final long GAP_TRACE_NANOS = 100_000_000;

    /** A closed interval [from, to] of nanoTime with no running copy. */
    record Gap(long from, long to) {
        long nanos() {
            return to - from;
        }
    }

    /** What the checker saw. */
    record Seen(int maxCopies, String twoCopies, long longestNoneNanos, List<Gap> gaps, List<String> trace, long samples) {
    }

    private final String domain;
    private final List<Host> hosts;
    private final Timeline timeline;
    private final View[] views;
    private final Thread thread;
    private volatile boolean stopping;

    // published results, guarded by this
    private int maxCopies;
    private String twoCopies;
    private final List<Gap> gaps = new ArrayList<>();
    private final List<String> trace = new ArrayList<>();
    private long samples;

    CopyChecker(String domain, List<Host> hosts, Timeline timeline) {
        this.domain = domain;
        this.hosts = hosts;
        this.timeline = timeline;
        this.views = new View[hosts.size()];
        for (int i = 0; i < views.length; i++) {
            views[i] = new View(hosts.get(i));
        }
        thread = Thread.ofPlatform().daemon().name("copy-checker").unstarted(this::loop);
        thread.setPriority(Thread.MAX_PRIORITY);
    }

    void start() {
        thread.start();
    }

    /** One host's guest, as the sampler sees it. Owned by the sampler thread. */
    private final class View {
        final Host host;
        Object fileKey;
        MappedByteBuffer regs;
        int vcpus;
        /** Written by the sampler only; volatile so that {@link #counter(Host)} can read it from the runner. */
        volatile long counter;
        boolean present;
        /** Counter ranges (lo, hi] this host executed, merged when contiguous. */
        final List<long[]> ranges = new ArrayList<>();
        String lastStatus = "absent";
        /** When this host was last seen executing (nanoTime), or -1. */
        volatile long lastExecuted = -1;

        View(Host host) {
            this.host = host;
        }

        Path dir() {
            return host.simDir().resolve(domain);
        }
    }

    /** One host in one interval: whether it executed (and which counter range) or runs virtually. */
    record Obs(boolean executing, boolean virtual, long lo, long hi, String status) {
    }

    private void loop() {
        long gapStart = -1;
        long prev = System.nanoTime();
        while (!stopping) {
            LockSupport.parkNanos(PERIOD.toNanos());
            long now = System.nanoTime();
            Obs[] obs = new Obs[views.length];
            for (int i = 0; i < views.length; i++) {
                obs[i] = observe(views[i]);
            }
            int copies = copies(obs);
            synchronized (this) {
                samples++;
                if (copies > maxCopies) {
                    maxCopies = copies;
                }
                if (copies >= 2 && twoCopies == null) {
                    twoCopies = "at " + timeline.at(now) + ": " + describe(obs);
                }
                for (int i = 0; i < views.length; i++) {
                    if (obs[i].executing()) {
                        views[i].lastExecuted = now;
                    }
                    // the trace shows what a host's guest is, not the flicker between a vCPU's 10 ms windows
                    String category = obs[i].executing() ? "present, not executing" : obs[i].status();
                    if (!category.equals(views[i].lastStatus)) {
                        note(timeline.at(now) + " " + views[i].host.name + ": " + category.replace("present, not executing", "present"));
                        views[i].lastStatus = category;
                    }
                }
                if (copies == 0 && gapStart < 0) {
                    gapStart = prev;
                } else if (copies > 0 && gapStart >= 0) {
                    gaps.add(new Gap(gapStart, now));
                    if (now - gapStart > GAP_TRACE_NANOS) {
                        note(timeline.at(gapStart) + " .. " + timeline.at(now) + ": no running copy ("
                                + (now - gapStart) / 1_000_000 + " ms)");
                    }
                    gapStart = -1;
                }
                if (copies >= 2) {
                    note(timeline.at(now) + ": two copies: " + describe(obs));
                }
            }
            prev = now;
        }
        synchronized (this) {
            if (gapStart >= 0) {
                gaps.add(new Gap(gapStart, System.nanoTime()));
            }
        }
    }

    private void note(String line) {
        if (trace.size() < MAX_TRACE) {
            trace.add(line);
        }
    }

    /** How many copies ran in one interval, given each host's observation. */
    static int copies(Obs[] obs) {
        int running = 0;
        int executing = 0;
        for (Obs o : obs) {
            if (o.executing() || o.virtual()) {
                running++;
            }
            if (o.executing()) {
                executing++;
            }
        }
        if (running == 2 && executing == 2 && obs.length == 2) {
            Obs a = obs[0];
            Obs b = obs[1];
            if (a.hi() <= b.lo() || b.hi() <= a.lo()) {
                return 1; // a hand-over inside one interval: one ran up to where the other started
            }
        }
        return running;
    }

    private String describe(Obs[] obs) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < obs.length; i++) {
            sb.append(views[i].host.name).append(' ').append(obs[i].status());
            if (obs[i].executing()) {
                sb.append(" counter ").append(obs[i].lo()).append("..").append(obs[i].hi());
            }
            sb.append(i + 1 < obs.length ? "; " : "");
        }
        return sb.toString();
    }

    private Obs observe(View v) {
        v.host.noticeExit();
        Host.State hs = v.host.state();
        Path regsFile = v.dir().resolve("vcpu-registers");
        Object key;
        try {
            key = Files.readAttributes(regsFile, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            v.present = false;
            v.regs = null;
            v.fileKey = null;
            return new Obs(false, false, 0, 0, "absent");
        }
        boolean fresh = false;
        if (v.regs == null || !key.equals(v.fileKey)) {
            if (!map(v, regsFile)) {
                return new Obs(false, false, 0, 0, "absent");
            }
            v.fileKey = key;
            fresh = true;
        }
        long c;
        try {
            c = 0;
            for (int i = 0; i < v.vcpus; i++) {
                c += v.regs.getLong(i * REG_STRIDE);
            }
        } catch (InternalError e) { // the file was truncated under the mapping
            v.regs = null;
            return new Obs(false, false, 0, 0, "absent");
        }
        long before = v.counter;
        v.counter = c;
        boolean executing = false;
        if (!fresh && c > before) {
            if (before == 0) {
                // the restore wrote the guest's registers: state loaded, not executed
            } else {
                executing = true;
                addRange(v, before, c);
            }
        }
        if (hs != Host.State.UP) {
            String persisted = persistedState(v);
            boolean virtual = "RUNNING".equals(persisted);
            return new Obs(executing, virtual, before, c, "daemon " + hs.name().toLowerCase(Locale.ROOT)
                    + ", persisted " + persisted + (virtual ? " (virtually running)" : ""));
        }
        return new Obs(executing, false, before, c, executing ? "executing" : "present, not executing");
    }

    private boolean map(View v, Path regsFile) {
        v.regs = null;
        Properties p = properties(v);
        try (FileChannel ch = FileChannel.open(regsFile, StandardOpenOption.READ)) {
            long size = ch.size();
            int vcpus = p != null && p.getProperty("vcpus") != null ? Integer.parseInt(p.getProperty("vcpus")) : (int) (size / REG_STRIDE);
            if (vcpus < 1 || (long) vcpus * REG_STRIDE > size) {
                return false; // still being created
            }
            MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, 0, (long) vcpus * REG_STRIDE);
            m.order(ByteOrder.nativeOrder());
            v.regs = m;
            v.vcpus = vcpus;
            long c = 0;
            for (int i = 0; i < vcpus; i++) {
                c += m.getLong(i * REG_STRIDE);
            }
            v.counter = c;
            v.present = true;
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private Properties properties(View v) {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(v.dir().resolve("domain.properties"))) {
            p.load(in);
            return p;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    private String persistedState(View v) {
        Properties p = properties(v);
        return p == null ? "?" : p.getProperty("state", "?");
    }

    private static void addRange(View v, long lo, long hi) {
        if (!v.ranges.isEmpty()) {
            long[] last = v.ranges.getLast();
            if (last[1] == lo) {
                last[1] = hi;
                return;
            }
        }
        v.ranges.add(new long[] {lo, hi});
    }

    /** When {@code h} was last seen executing its guest (nanoTime), or -1. */
    long lastExecuted(Host h) {
        for (View v : views) {
            if (v.host == h) {
                return v.lastExecuted;
            }
        }
        return -1;
    }

    /** The workload counter (pages written since creation) {@code h}'s copy last showed, or 0. */
    long counter(Host h) {
        for (View v : views) {
            if (v.host == h) {
                return v.counter;
            }
        }
        return 0;
    }

    /** Stops sampling and returns what was seen. */
    Seen finish() {
        close();
        synchronized (this) {
            String two = twoCopies;
            String fork = fork();
            if (two == null && fork != null) {
                two = fork;
            }
            int max = fork != null ? Math.max(2, maxCopies) : maxCopies;
            long longest = gaps.stream().mapToLong(Gap::nanos).max().orElse(0);
            return new Seen(max, two, longest, List.copyOf(gaps), List.copyOf(trace), samples);
        }
    }

    /** The first counter value executed on two hosts, described; null if none. */
    private String fork() {
        for (int i = 0; i < views.length; i++) {
            for (int j = i + 1; j < views.length; j++) {
                for (long[] a : views[i].ranges) {
                    for (long[] b : views[j].ranges) {
                        if (a[0] < b[1] && b[0] < a[1]) {
                            return "the guest's execution forked: " + views[i].host.name + " executed counter " + a[0] + ".." + a[1]
                                    + " and " + views[j].host.name + " executed " + b[0] + ".." + b[1]
                                    + " (the same guest steps ran on both hosts)";
                        }
                    }
                }
            }
        }
        return null;
    }

    /**
     * Checks the gaps against the rule; the first violation, or null.
     *
     * @param reportedDowntime the migration's reported downtime (zero if none was reported)
     */
    static String gapViolation(List<Gap> gaps, List<Timeline.Hold> holds, Duration reportedDowntime, Timeline timeline) {
        long allowed = reportedDowntime.plus(TOLERANCE).toNanos();
        for (Gap g : gaps) {
            long holdEnd = -1;
            for (Timeline.Hold h : holds) {
                if (h.from() <= g.to() && g.from() <= h.to() + RECOVERY.toNanos()) {
                    holdEnd = Math.max(holdEnd, h.to());
                }
            }
            if (holdEnd >= 0) {
                if (g.to() > holdEnd + RECOVERY.toNanos()) {
                    return String.format(Locale.ROOT, "no running copy from %s to %s: %.1f s after the fault released it (allowed %d s)",
                            timeline.at(g.from()), timeline.at(g.to()), (g.to() - holdEnd) / 1e9, RECOVERY.toSeconds());
                }
            } else if (g.nanos() > allowed) {
                return String.format(Locale.ROOT, "no running copy from %s to %s (%d ms), more than the reported downtime %d ms + %d ms",
                        timeline.at(g.from()), timeline.at(g.to()), g.nanos() / 1_000_000, reportedDowntime.toMillis(),
                        TOLERANCE.toMillis());
            }
        }
        return null;
    }

    @Override
    public void close() {
        stopping = true;
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
