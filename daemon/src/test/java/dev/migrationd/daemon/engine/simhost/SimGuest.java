package dev.migrationd.daemon.engine.simhost;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.hypervisor.sim.SimDomain;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A sim domain as the engine tests see it: the domain itself, with counters of what the engine did to it
 * (pauses, resumes, completed restores), snapshots of its memory and state at the pause and at its first
 * start, and the test-only switches: a guest that dirties its first pages between any two reads of the
 * dirty log, and a restored domain whose first copy of one page is damaged. PV guests also keep an XSAVE
 * area per vCPU here, which the sim has none of, so that the engine's XSAVE records travel in the tests.
 *
 * <p>Thread-safe: the engine's migration thread drives the domain while the test's thread reads the probes.
 */
public final class SimGuest implements Domain {

    private static final int PAGE = StreamLimits.PAGE_SIZE;

    private final SimHost host;
    private final SimDomain sim;
    private final String name;
    /** Built by {@code createForRestore}: its first resume is its start. */
    private final boolean restored;
    private final AtomicInteger pauses = new AtomicInteger();
    private final AtomicInteger resumes = new AtomicInteger();
    private final AtomicInteger completedRestores = new AtomicInteger();
    /** PV: each vCPU's XSAVE record (empty: none). */
    private final Map<Integer, byte[]> xsave = new ConcurrentHashMap<>();
    private final PlatformState platform;
    private volatile boolean hashOnPause;
    private volatile Snapshot atPause;
    private volatile Snapshot atStart;
    private volatile long alwaysDirty;
    private volatile boolean destroyed;

    SimGuest(SimHost host, SimDomain sim, boolean restored) throws HypervisorException {
        this.host = host;
        this.sim = sim;
        this.name = sim.info().name();
        this.restored = restored;
        this.platform = new XsaveKept(sim.platform());
    }

    /** A domain's memory (the sim's integrity hash) and its vCPU and platform state, at one moment. */
    public record Snapshot(long memory, String platform) {
    }

    public String name() {
        return name;
    }

    public UUID uuid() {
        return sim.uuid();
    }

    // ---- test controls and probes ---------------------------------------------------------------------

    /**
     * Starts the guest's workload: its vCPUs write the first {@code hotPages} data pages in turn, in all
     * {@code writesPerMilli} pages per millisecond at full speed (the throttle slows them).
     */
    public void startWorkload(long hotPages, int writesPerMilli) throws HypervisorException {
        double workingSet = Math.min(1.0, (double) hotPages / sim.info().p2mSize());
        sim.setWorkload(WorkloadSpec.of((long) writesPerMilli * 1000 * PAGE, workingSet, 0, WorkloadSpec.Pattern.SEQUENTIAL));
    }

    /**
     * A guest that rewrites its first {@code pages} pages between any two reads of the dirty log, however long
     * a round takes: "never converges" then holds whether or not its vCPUs get a CPU on a loaded machine.
     */
    public void alwaysDirty(long pages) {
        this.alwaysDirty = pages;
    }

    /** Takes a {@link Snapshot} at every pause ({@link #atPause()}). */
    public void hashOnPause(boolean on) {
        hashOnPause = on;
    }

    /** The snapshot taken at the last pause; there must have been one since {@link #hashOnPause}. */
    public Snapshot atPause() {
        Snapshot s = atPause;
        if (s == null) {
            throw new IllegalStateException(name + " was not paused since hashOnPause(true)");
        }
        return s;
    }

    /** A restored domain's snapshot just before it first ran; it must have run. */
    public Snapshot atStart() {
        Snapshot s = atStart;
        if (s == null) {
            throw new IllegalStateException(name + (restored ? " has not run since it was restored" : " was not restored"));
        }
        return s;
    }

    /** The snapshot now (stable only while the domain is paused or idle). */
    public Snapshot snapshot() throws HypervisorException {
        PlatformState p = platform;
        StringBuilder s = new StringBuilder();
        if (sim.info().guestType() == GuestType.HVM) {
            s.append(Arrays.hashCode(p.hvmContext())).append(new TreeMap<>(p.hvmParams()));
        } else {
            for (int v : p.onlineVcpus().stream().toArray()) {
                s.append(Arrays.hashCode(p.pvVcpuContext(v))).append('/').append(Arrays.hashCode(p.pvExtendedContext(v)))
                        .append('/').append(Arrays.hashCode(p.pvXsave(v))).append(';');
            }
            s.append(Arrays.hashCode(p.sharedInfo())).append(Arrays.toString(p.p2mFrameList()));
        }
        s.append(p.tscInfo());
        return new Snapshot(sim.memoryHash(), s.toString());
    }

    public int pauses() {
        return pauses.get();
    }

    public int resumes() {
        return resumes.get();
    }

    /** How often {@code completeRestore()} succeeded on this domain. */
    public int completedRestores() {
        return completedRestores.get();
    }

    public boolean destroyed() {
        return destroyed;
    }

    /** Whether the domain exists and runs (a domain whose state cannot be read does not). */
    public boolean running() {
        try {
            return !destroyed && sim.info().state() == DomainState.RUNNING;
        } catch (HypervisorException e) {
            return false;
        }
    }

    // ---- Domain ---------------------------------------------------------------------------------------

    @Override
    public DomainInfo info() throws HypervisorException {
        return sim.info();
    }

    /**
     * What {@link #toolstackConfig()} answers, as a Xen backend with libxl answers for a PV or PVH guest; null (the
     * default) for none, as the sim backend answers.
     */
    public volatile dev.migrationd.hypervisor.ToolstackConfig toolstackConfig;

    @Override
    public java.util.Optional<dev.migrationd.hypervisor.ToolstackConfig> toolstackConfig() {
        return java.util.Optional.ofNullable(toolstackConfig);
    }

    @Override
    public void pause() throws HypervisorException {
        sim.pause();
        pauses.incrementAndGet();
        if (hashOnPause) {
            atPause = snapshot();
        }
    }

    @Override
    public void resume() throws HypervisorException {
        String fault = host.failResume;
        if (fault != null) {
            throw new HypervisorException("resume", name, fault);
        }
        if (restored && atStart == null) {
            atStart = snapshot();
        }
        sim.resume();
        resumes.incrementAndGet();
    }

    @Override
    public void completeRestore() throws HypervisorException {
        String fault = host.failCompleteRestore;
        if (fault != null) {
            throw new HypervisorException("completeRestore", name, fault);
        }
        sim.completeRestore();
        completedRestores.incrementAndGet();
    }

    @Override
    public void rename(String newName) throws HypervisorException {
        if (!host.capabilities().contains(dev.migrationd.hypervisor.Capability.RENAME)) {
            Domain.super.rename(newName);
        }
        sim.rename(newName);
    }

    @Override
    public void destroy() throws HypervisorException {
        String fault = host.failDestroy;
        if (fault != null) {
            throw new HypervisorException("destroy", name, fault);
        }
        sim.destroy();
        destroyed = true;
        host.forget(this, sim);
    }

    @Override
    public DirtyLog dirtyLog() {
        DirtyLog log = sim.dirtyLog();
        return new DirtyLog() {
            @Override
            public void enable() throws HypervisorException {
                log.enable();
            }

            @Override
            public long fetchAndClear(DirtyBitmap into) throws HypervisorException {
                rewriteHotPages();
                return log.fetchAndClear(into);
            }

            @Override
            public long peek(DirtyBitmap into) throws HypervisorException {
                rewriteHotPages();
                return log.peek(into);
            }

            @Override
            public void disable() throws HypervisorException {
                log.disable();
            }

            @Override
            public boolean enabled() {
                return log.enabled();
            }
        };
    }

    /** {@link #alwaysDirty}: the first pages are dirty again at every read of the log while the guest runs. */
    private void rewriteHotPages() throws HypervisorException {
        long hot = Math.min(alwaysDirty, sim.info().p2mSize());
        if (hot > 0 && running()) {
            try (DirtyBitmap pages = new DirtyBitmap(sim.info().p2mSize())) {
                for (long pfn = 0; pfn < hot; pfn++) {
                    pages.set(pfn);
                }
                sim.simDirtyLog().markAll(pages);
            }
        }
    }

    @Override
    public GuestMemory memory() {
        GuestMemory m = sim.memory();
        return new GuestMemory() {
            @Override
            public long p2mSize() {
                return m.p2mSize();
            }

            @Override
            public long populated(DirtyBitmap into) throws HypervisorException {
                return m.populated(into);
            }

            @Override
            public PageMapping mapForRead(long[] pfns, int offset, int count) throws HypervisorException {
                return m.mapForRead(pfns, offset, count);
            }

            @Override
            public void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException {
                if (pfn == host.corruptPfnOnFirstWrite.get() && host.corruptPfnOnFirstWrite.compareAndSet(pfn, -1)) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment damaged = arena.allocate(PAGE).copyFrom(src);
                        damaged.set(ValueLayout.JAVA_BYTE, 100, (byte) (damaged.get(ValueLayout.JAVA_BYTE, 100) ^ 0x5A));
                        m.writePage(pfn, type, damaged);
                    }
                    return;
                }
                m.writePage(pfn, type, src);
            }

            @Override
            public void populateOnly(long pfn, PageType type) throws HypervisorException {
                m.populateOnly(pfn, type);
            }
        };
    }

    @Override
    public PlatformState platform() {
        return platform;
    }

    @Override
    public Optional<Throttle> throttle() {
        return host.capabilities().contains(Capability.THROTTLE) ? sim.throttle() : Optional.empty();
    }

    /** The sim's platform state, with the PV XSAVE areas kept in {@link #xsave} (the sim has none). */
    private final class XsaveKept implements PlatformState {
        private final PlatformState p;

        XsaveKept(PlatformState p) {
            this.p = p;
        }

        @Override
        public byte[] pvXsave(int vcpu) {
            return xsave.getOrDefault(vcpu, new byte[0]).clone();
        }

        @Override
        public void setPvXsave(int vcpu, byte[] area) {
            xsave.put(vcpu, area.clone());
        }

        @Override
        public BitSet onlineVcpus() throws HypervisorException {
            return p.onlineVcpus();
        }

        @Override
        public byte[] pvVcpuContext(int vcpu) throws HypervisorException {
            return p.pvVcpuContext(vcpu);
        }

        @Override
        public void setPvVcpuContext(int vcpu, byte[] context) throws HypervisorException {
            p.setPvVcpuContext(vcpu, context);
        }

        @Override
        public byte[] pvExtendedContext(int vcpu) throws HypervisorException {
            return p.pvExtendedContext(vcpu);
        }

        @Override
        public void setPvExtendedContext(int vcpu, byte[] context) throws HypervisorException {
            p.setPvExtendedContext(vcpu, context);
        }

        @Override
        public byte[] sharedInfo() throws HypervisorException {
            return p.sharedInfo();
        }

        @Override
        public void setSharedInfo(byte[] page) throws HypervisorException {
            p.setSharedInfo(page);
        }

        @Override
        public long[] p2mFrameList() throws HypervisorException {
            return p.p2mFrameList();
        }

        @Override
        public void setP2mFrameList(long[] frames) throws HypervisorException {
            p.setP2mFrameList(frames);
        }

        @Override
        public byte[] hvmContext() throws HypervisorException {
            return p.hvmContext();
        }

        @Override
        public void setHvmContext(byte[] blob) throws HypervisorException {
            p.setHvmContext(blob);
        }

        @Override
        public Map<Integer, Long> hvmParams() throws HypervisorException {
            return p.hvmParams();
        }

        @Override
        public void setHvmParam(int index, long value) throws HypervisorException {
            p.setHvmParam(index, value);
        }

        @Override
        public TscInfo tscInfo() throws HypervisorException {
            return p.tscInfo();
        }

        @Override
        public void setTscInfo(TscInfo info) throws HypervisorException {
            p.setTscInfo(info);
        }
    }
}
