package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sim domain: guest memory in a mapped file on a shared-memory file system (see SimMemoryDir), a
 * p2m/type table in another, the vCPUs' workload registers in a third, and the rest of its state in
 * {@link SimMetadata} — these under {@code <stateDir>/sim/<name>/}.
 *
 * <p>Concurrency: lifecycle operations (pause, resume, destroy, state setters, metadata writes) run under
 * {@link #stateLock}, held only by control threads, never by vCPUs. {@link #running}, {@link #stopping}
 * and {@link #plan} are volatile and written under it; the vCPU threads ({@link SimVcpu}) read them under
 * their own gates. Guest memory is shared: vCPUs write it while running, readers map it (live), and the
 * restore path writes it only while the domain is paused.
 */
public final class SimDomain implements Domain {

    private static final Logger LOG = LoggerFactory.getLogger(SimDomain.class);
    /** Guest memory in the domain's directory, as versions before the shared-memory directory kept it. */
    static final String LEGACY_MEMORY_FILE = "memory";
    static final String P2M_FILE = "p2m";
    static final String REGISTER_FILE = "vcpu-registers";
    /** Bytes per vCPU in the register file (three registers used). */
    static final int REG_STRIDE = 64;
    /** p2m table byte: 0 = not populated; otherwise POPULATED | type nibble. */
    static final int POPULATED = 0x10;
    private static final int PAGE = StreamLimits.PAGE_SIZE;

    /** What the vCPUs run, derived at resume from the descriptor page (guest memory) and the layout. */
    record RunPlan(WorkloadSpec.Pattern pattern, long workingSetPages, long hotPages, double skew,
                   int activeVcpus, double pagesPerWindow) {
        boolean unthrottled() {
            return pagesPerWindow < 0;
        }
    }

    private final SimHypervisor hypervisor;
    private final SimMetadata meta;
    private final SimLayout layout;
    private final MappedFile memory;
    private final MappedFile p2m;
    private final MappedFile registers;
    private final SimDirtyLog dirtyLog;
    private final SimGuestMemory guestMemory;
    private final SimPlatformState platform;
    private final SimThrottle throttle;
    private final SimVcpu[] vcpus;
    private final ReentrantLock stateLock = new ReentrantLock();
    private volatile Path dir;
    private volatile WriteJournal journal;
    private volatile boolean destroyed;
    /** The walk populating this restore's memory ahead of the stream, or null; see PopulateAhead for its threads. */
    private volatile PopulateAhead populateAhead;
    private volatile boolean detached;
    volatile boolean running;
    volatile boolean stopping;
    volatile RunPlan plan;
    /** Mirror of the metadata's throttle for the vCPUs (volatile: read by them every window). */
    private volatile int throttlePercent;

    SimDomain(SimHypervisor hypervisor, Path dir, SimMetadata meta, MappedFile memory, MappedFile p2m,
              MappedFile registers) {
        this.hypervisor = hypervisor;
        this.dir = dir;
        this.meta = meta;
        this.layout = SimLayout.of(meta.guestType, meta.width, meta.p2mSize);
        this.memory = memory;
        this.p2m = p2m;
        this.registers = registers;
        this.dirtyLog = new SimDirtyLog(meta.name, meta.p2mSize);
        this.guestMemory = new SimGuestMemory(this);
        this.platform = new SimPlatformState(this);
        this.throttle = new SimThrottle(this);
        this.throttlePercent = meta.throttlePercent;
        this.vcpus = new SimVcpu[meta.vcpus];
        for (int v = 0; v < vcpus.length; v++) {
            vcpus[v] = new SimVcpu(this, v);
        }
    }

    /** Starts the vCPU threads, running the workload when the metadata says RUNNING. */
    void start() {
        if (meta.state == DomainState.RUNNING) {
            plan = readPlan();
            running = true;
        }
        for (SimVcpu v : vcpus) {
            v.start();
        }
    }

    // ---- accessors for the package ----------------------------------------------------------------

    String name() {
        return meta.name;
    }

    int domid() {
        return meta.domid;
    }

    SimLayout layout() {
        return layout;
    }

    SimMetadata meta() {
        return meta;
    }

    /** Prefaults the whole guest memory (see MappedFile#prefault): writes to it take no page fault. */
    void prefaultMemory() throws HypervisorException {
        try {
            memory.prefault();
        } catch (NativeCallException e) {
            throw new HypervisorException("prefault", meta.name, "cannot prefault guest memory: " + e.problem(), e);
        }
    }

    /** Starts populating the memory ahead of the restore's writer on the {@code sim-populate} thread. */
    void startPopulateAhead() {
        PopulateAhead p = new PopulateAhead(meta.name, memory.segment());
        populateAhead = p;
        p.start();
    }

    /** The restore wrote the page at {@code pfn} (its one writer thread): the populate walk skips past it. */
    void pageWritten(long pfn) {
        PopulateAhead p = populateAhead;
        if (p != null) {
            p.written(pfn * PAGE);
        }
    }

    /** The file the guest memory is mapped from. */
    Path memoryFile() {
        return memory.path();
    }

    SimHypervisor hypervisor() {
        return hypervisor;
    }

    MemorySegment memorySegment() {
        return memory.segment();
    }

    MemorySegment p2mTable() {
        return p2m.segment();
    }

    MemorySegment registerFile() {
        return registers.segment();
    }

    SimDirtyLog dirtyLogImpl() {
        return dirtyLog;
    }

    WriteJournal journal() {
        return journal;
    }

    int throttlePercent() {
        return throttlePercent;
    }

    /** Sets the throttle; the caller holds the state lock and persists. */
    void setThrottlePercent(int percent) {
        meta.throttlePercent = percent;
        throttlePercent = percent;
    }

    ReentrantLock stateLock() {
        return stateLock;
    }

    void setDir(Path dir) {
        this.dir = dir;
    }

    /** The type of {@code pfn}, or null when it is not populated. */
    PageType typeAt(long pfn) {
        int b = p2m.segment().get(ValueLayout.JAVA_BYTE, pfn) & 0xFF;
        return (b & POPULATED) == 0 ? null : PageType.fromNibble(b & 0xF);
    }

    void setType(long pfn, PageType type) {
        p2m.segment().set(ValueLayout.JAVA_BYTE, pfn, type == null ? 0 : (byte) (POPULATED | type.nibble()));
    }

    /** Releases a page's backing store (XTAB on restore): it reads as zeros afterwards. */
    void punchHole(long pfn) {
        memory.punchHole(pfn * PAGE, PAGE);
    }

    long register(int vcpu, int reg) {
        return registers.segment().get(ValueLayout.JAVA_LONG, (long) vcpu * REG_STRIDE + reg * 8L);
    }

    void setRegister(int vcpu, int reg, long value) {
        registers.segment().set(ValueLayout.JAVA_LONG, (long) vcpu * REG_STRIDE + reg * 8L, value);
    }

    /** Whether {@link #destroy()} has begun (the files may still be being deleted). */
    boolean destroyed() {
        return destroyed;
    }

    /** Throws unless the domain is usable. */
    void checkAlive(String op) throws HypervisorException {
        if (destroyed) {
            throw new HypervisorException(op, meta.name, "domain has been destroyed");
        }
        if (detached) {
            throw new HypervisorException(op, meta.name, "the hypervisor handle was closed");
        }
    }

    /** Throws unless the domain is paused (restore-time setters). */
    void checkPaused(String op) throws HypervisorException {
        checkAlive(op);
        if (running) {
            throw new HypervisorException(op, meta.name, "domain must be paused");
        }
    }

    /**
     * Whether a restore is under way (from createForRestore to completeRestore or resume): the state setters
     * then change the metadata in memory only, and completeRestore writes it once. Guarded by the state lock.
     */
    private boolean restoring;

    void beginRestore() {
        stateLock.lock();
        try {
            restoring = true;
        } finally {
            stateLock.unlock();
        }
    }

    /**
     * Persists a state setter's change: at once, or while a restore is under way once at
     * {@link #completeRestore()}. Every persist is a write, an fsync and a directory fsync; the stream's tail
     * sets the state piece by piece (HVM: context, then each parameter), and on the destination those
     * fsyncs were in the downtime, between the last stream byte and Received. Deferring them keeps the
     * guarantee: the engine calls completeRestore before Received, so before Go and the destination's
     * COMMITTED; a restore that stops earlier is destroyed (recovery too destroys an uncommitted one).
     * The caller holds the state lock.
     */
    void persistState(String op) throws HypervisorException {
        if (!restoring) {
            persist(op);
        }
    }

    @Override
    public void completeRestore() throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("complete_restore");
            if (restoring) {
                persist("complete_restore");
                restoring = false;
            }
            PopulateAhead p = populateAhead;
            if (p != null) {
                p.requestStop(); // every page of the stream is in: the rest stays unpopulated until touched
            }
        } finally {
            stateLock.unlock();
        }
    }

    /** Persists the metadata; the caller holds the state lock. */
    void persist(String op) throws HypervisorException {
        try {
            meta.store(dir);
        } catch (IOException e) {
            throw new HypervisorException(op, meta.name, "cannot write metadata: " + e.getMessage(), e);
        }
    }

    // ---- Domain ------------------------------------------------------------------------------------

    @Override
    public DomainInfo info() throws HypervisorException {
        checkAlive("info");
        return new DomainInfo(meta.name, meta.domid, meta.uuid, meta.p2mSize, meta.vcpus, meta.guestType, meta.width,
                running ? DomainState.RUNNING : DomainState.PAUSED);
    }

    public UUID uuid() {
        return meta.uuid;
    }

    @Override
    public void pause() throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("pause");
            if (!running) {
                return;
            }
            running = false;
            for (SimVcpu v : vcpus) {
                v.barrier();
            }
            meta.state = DomainState.PAUSED;
            persist("pause");
            LOG.info("event=domain_paused domain={} domid={}", meta.name, meta.domid);
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public void resume() throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("resume");
            if (running) {
                return;
            }
            meta.state = DomainState.RUNNING;
            try {
                persist("resume");
            } catch (HypervisorException e) {
                meta.state = DomainState.PAUSED;
                throw e;
            }
            restoring = false; // what a restore set is on disk now
            plan = readPlan();
            running = true;
            for (SimVcpu v : vcpus) {
                v.signal();
            }
            LOG.info("event=domain_resumed domain={} domid={} workload=\"{}\"", meta.name, meta.domid, workload());
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public void rename(String newName) throws HypervisorException {
        hypervisor.rename(this, newName);
    }

    /**
     * Moves the domain's directory to {@code newDir} and its metadata to {@code newName}: the metadata first
     * (in the old directory), then the directory, so that a crash between leaves a directory whose metadata
     * names where it belongs ({@link SimHypervisor} finishes the move when it loads). The hypervisor's lock
     * is held by the caller; the state lock is taken here.
     */
    void moveTo(Path newDir, String newName) throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("rename");
            String old = meta.name;
            meta.name = newName;
            try {
                meta.store(dir);
                Files.move(dir, newDir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                meta.name = old;
                try {
                    meta.store(dir);
                } catch (IOException e2) {
                    LOG.error("event=rename_undo_failed domain={} error=\"{}\"", old, e2.getMessage());
                }
                throw new HypervisorException("rename", old, "cannot rename to " + newName + ": " + e.getMessage(), e);
            }
            dir = newDir;
            LOG.info("event=domain_renamed from={} to={} domid={}", old, newName, meta.domid);
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public void destroy() throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("destroy");
            stopVcpus();
            destroyed = true;
            // gone at once (renamed away, forgotten: the name is free again); the memory is freed by the
            // hypervisor's reaper thread, as Xen frees a dead domain's pages after destroy returns
            Path doomed = dir.resolveSibling(SimHypervisor.DESTROYING_PREFIX + meta.name + "." + meta.domid);
            try {
                Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                closeResources();
                throw new HypervisorException("destroy", meta.name, "cannot remove " + dir + ": " + e.getMessage(), e);
            } finally {
                hypervisor.forget(this);
            }
            // the name goes now (the domid may be reused at once); the pages go when the reaper unmaps
            hypervisor.deleteMemoryFile(meta.domid, memory.path());
            hypervisor.reap(meta.name, doomed, this::closeResources);
            LOG.info("event=domain_destroyed domain={} domid={}", meta.name, meta.domid);
        } finally {
            stateLock.unlock();
        }
    }

    /** Stops the vCPU threads, writes the metadata and unmaps (SimHypervisor#close); the domain keeps its state on disk. */
    void detach() {
        stateLock.lock();
        try {
            if (destroyed || detached) {
                return;
            }
            stopVcpus();
            try {
                persist("close");
            } catch (HypervisorException e) {
                LOG.warn("event=metadata_write_failed domain={} reason=\"{}\"", meta.name, e.getMessage());
            }
            detached = true;
            closeResources();
        } finally {
            stateLock.unlock();
        }
    }

    /** Undoes a failed build: stops threads (if any) and unmaps, writing nothing. */
    void detachQuietly() {
        stateLock.lock();
        try {
            if (!destroyed && !detached) {
                stopVcpus();
                detached = true;
                closeResources();
            }
        } finally {
            stateLock.unlock();
        }
    }

    private void stopVcpus() {
        stopping = true;
        for (SimVcpu v : vcpus) {
            v.signal();
        }
        boolean interrupted = false;
        for (SimVcpu v : vcpus) {
            while (true) {
                try {
                    v.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeResources() {
        PopulateAhead p = populateAhead;
        if (p != null) {
            p.stop();
        }
        dirtyLog.close();
        memory.close();
        p2m.close();
        registers.close();
    }

    @Override
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    /** The sim's dirty log, with its sim-only extras ({@link SimDirtyLog#markAll}). */
    public SimDirtyLog simDirtyLog() {
        return dirtyLog;
    }

    @Override
    public GuestMemory memory() {
        return guestMemory;
    }

    @Override
    public PlatformState platform() {
        return platform;
    }

    @Override
    public Optional<Throttle> throttle() {
        return Optional.of(throttle);
    }

    // ---- sim-only ----------------------------------------------------------------------------------

    /** The workload as the guest's descriptor page states it (idle if the page holds none). */
    public WorkloadSpec workload() throws HypervisorException {
        checkAlive("workload");
        return WorkloadSpec.readFrom(descriptorPage());
    }

    /** Reprograms the guest: writes a new descriptor; running vCPUs switch to it at once. */
    public void setWorkload(WorkloadSpec spec) throws HypervisorException {
        stateLock.lock();
        try {
            checkAlive("set_workload");
            boolean wasRunning = running;
            pause();
            spec.writeTo(descriptorPage());
            dirtyLog.mark(SimLayout.DESCRIPTOR_PFN);
            if (wasRunning) {
                resume();
            }
        } finally {
            stateLock.unlock();
        }
    }

    private MemorySegment descriptorPage() {
        return memory.segment().asSlice(SimLayout.DESCRIPTOR_PFN * PAGE, PAGE);
    }

    RunPlan readPlan() {
        WorkloadSpec spec = typeAt(SimLayout.DESCRIPTOR_PFN) == PageType.NOTAB
                ? WorkloadSpec.readFrom(descriptorPage()) : WorkloadSpec.IDLE;
        long ws = spec.workingSetPages(layout.dataPages());
        long hot = Math.max(1, (long) (ws * WorkloadSpec.HOT_FRACTION));
        int active = switch (spec.pattern()) {
            case AB -> 1;
            case SEQUENTIAL -> (int) Math.min(meta.vcpus, ws);
            case RANDOM -> meta.vcpus;
        };
        double perWindow;
        if (spec.idle()) {
            perWindow = 0;
        } else if (spec.unthrottled()) {
            perWindow = -1;
        } else {
            perWindow = (double) spec.rateBytesPerSec() / PAGE / active * SimVcpu.WINDOW_NANOS / 1e9;
        }
        return new RunPlan(spec.pattern(), ws, hot, spec.skew(), active, perWindow);
    }

    /** Per-vCPU workload counters (pages written), read from the guest's vCPU state through {@link #platform()}. */
    public long[] vcpuCounters() throws HypervisorException {
        long[] c = new long[meta.vcpus];
        if (meta.guestType == GuestType.PV) {
            for (int v = 0; v < c.length; v++) {
                c[v] = SimX86.pvReg(meta.width, platform.pvVcpuContext(v), SimX86.REG_COUNTER);
            }
        } else {
            byte[] blob = platform.hvmContext();
            int[] off = SimX86.hvmCpuOffsets(blob, meta.vcpus);
            for (int v = 0; v < c.length; v++) {
                c[v] = SimX86.hvmReg(blob, off[v], SimX86.REG_COUNTER);
            }
        }
        return c;
    }

    /** Total pages the workload has written, from guest state (survives save/restore and restarts). */
    public long workloadCounter() throws HypervisorException {
        long sum = 0;
        for (long c : vcpuCounters()) {
            sum += c;
        }
        return sum;
    }

    /**
     * A write as a vCPU would do it (sim only, for tests and tools): stores {@code value} at
     * {@code offset} of {@code pfn}, then marks the page dirty. The domain must be running.
     */
    public void guestWrite(long pfn, int offset, long value) throws HypervisorException {
        stateLock.lock(); // serialised with pause(): no write after pause returns
        try {
            checkAlive("guest_write");
            if (!running) {
                throw new HypervisorException("guest_write", meta.name, "domain is paused: vCPUs do not write");
            }
            if (pfn < 0 || pfn >= meta.p2mSize || typeAt(pfn) == null) {
                throw new HypervisorException("guest_write", meta.name, "pfn " + pfn + " is not populated");
            }
            if (offset < 0 || offset > PAGE - 8) {
                throw new HypervisorException("guest_write", meta.name, "offset " + offset + " outside the page");
            }
            memory.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, pfn * PAGE + offset, value);
            dirtyLog.mark(pfn);
        } finally {
            stateLock.unlock();
        }
    }

    /** Bytes of guest memory resident in RAM (mincore over the mapping). */
    public long residentBytes() throws HypervisorException {
        checkAlive("resident");
        try {
            return memory.residentPages() * PAGE;
        } catch (NativeCallException e) {
            throw new HypervisorException("resident", meta.name, e.problem(), e);
        }
    }

    /** The integrity oracle's hash of guest memory (see {@link IntegrityOracle#memoryHash}). */
    public long memoryHash() throws HypervisorException {
        checkAlive("hash");
        return IntegrityOracle.memoryHash(this);
    }

    /** The {@code ab} checker (see {@link IntegrityOracle#checkAb}). */
    public IntegrityOracle.AbResult checkAb() throws HypervisorException {
        checkAlive("check_ab");
        return IntegrityOracle.checkAb(this);
    }

    /**
     * Test mode: journal every vCPU write (at most {@code capacityPerVcpu} per vCPU). Enable it while
     * paused; returns the journal.
     */
    public WriteJournal enableJournal(int capacityPerVcpu) throws HypervisorException {
        checkPaused("enable_journal");
        WriteJournal j = new WriteJournal(meta.vcpus, capacityPerVcpu);
        journal = j;
        return j;
    }

    Width width() {
        return meta.width;
    }

    GuestType guestType() {
        return meta.guestType;
    }

    @Override
    public String toString() {
        return "SimDomain[" + meta.name + " domid=" + meta.domid + "]";
    }
}
