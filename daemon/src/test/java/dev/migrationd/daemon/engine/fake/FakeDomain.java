package dev.migrationd.daemon.engine.fake;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fake domain. Memory is an off-heap segment; the workload thread writes pages (an "a-b" style
 * counter in the first 8 bytes of a page, hot set first) while the domain runs, marking each written
 * page dirty AFTER the write, as a real hypervisor's log would catch it. {@link #pause()} waits until
 * the writer is between writes.
 *
 * <p>Locks: {@link #run} guards the running state and each workload write; {@link #dirtyLock} guards
 * the dirty words; {@link #populated} is guarded by {@link #dirtyLock} too.
 */
public final class FakeDomain implements Domain {

    private static final int PAGE = 4096;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final FakeHypervisor hypervisor;
    private final DomainShape shape;
    private final int domid;
    private final Arena arena;
    private final MemorySegment memory;
    private final FileChannel backingChannel;
    private final long[] dirtyWords;
    private final long[] populated;
    private final Object dirtyLock = new Object();
    private final ReentrantLock run = new ReentrantLock();
    private final Condition resumed = run.newCondition();
    private volatile boolean paused = true;
    private volatile boolean destroyed;
    private volatile boolean logEnabled;
    private volatile int throttlePercent;
    private Thread workload;
    private volatile boolean workloadStop;
    private volatile String hashAtPause;
    private volatile boolean hashOnPause;
    private final AtomicInteger pauses = new AtomicInteger();
    private final AtomicInteger completedRestores = new AtomicInteger();
    private final AtomicInteger resumes = new AtomicInteger();

    // platform state (guarded by this)
    private final Map<Integer, byte[]> pvContexts = new HashMap<>();
    private final Map<Integer, byte[]> pvExt = new HashMap<>();
    private final Map<Integer, byte[]> pvXsave = new HashMap<>();
    private byte[] sharedInfo = new byte[PAGE];
    private long[] p2mFrames;
    private byte[] hvmContext;
    private final Map<Integer, Long> hvmParams = new HashMap<>();
    private TscInfo tsc = new TscInfo(0, 0, 0, 0);
    private final Set<Long> broken = new HashSet<>();

    FakeDomain(FakeHypervisor hypervisor, DomainShape shape, int domid, Path backing) throws HypervisorException {
        this.hypervisor = hypervisor;
        this.shape = shape;
        this.domid = domid;
        this.arena = Arena.ofShared();
        long bytes = shape.p2mSize() * PAGE;
        try {
            if (backing != null) {
                backingChannel = FileChannel.open(backing, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, StandardOpenOption.SPARSE, StandardOpenOption.DELETE_ON_CLOSE);
                memory = backingChannel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            } else {
                backingChannel = null;
                memory = arena.allocate(bytes, PAGE);
            }
        } catch (IOException e) {
            arena.close();
            throw new HypervisorException("create", shape.name(), e.getMessage());
        }
        int words = (int) ((shape.p2mSize() + 63) >>> 6);
        dirtyWords = new long[words];
        populated = new long[words];
        p2mFrames = new long[(int) ((shape.p2mSize() + 511) / 512)];
        for (int i = 0; i < p2mFrames.length; i++) {
            p2mFrames[i] = i;
        }
    }

    public String name() {
        return shape.name();
    }

    int domid() {
        return domid;
    }

    public DomainShape shape() {
        return shape;
    }

    // ---- test setup -------------------------------------------------------------------------------

    void fillPattern() {
        populateAll();
        for (long pfn = 0; pfn < shape.p2mSize(); pfn++) {
            long base = pfn * PAGE;
            for (int off = 0; off < PAGE; off += 8) {
                memory.set(LONG, base + off, pfn * 0x9E3779B97F4A7C15L + off);
            }
        }
        SplittableRandom r = new SplittableRandom(shape.uuid().getLeastSignificantBits());
        synchronized (this) {
            for (int v = 0; v < shape.vcpus(); v++) {
                int size = shape.guestWidth() == Width.W64 ? 0x1430 : 0xAF0;
                pvContexts.put(v, bytes(r, size));
                pvExt.put(v, bytes(r, 128));
                byte[] xs = bytes(r, 16 + 576);
                pvXsave.put(v, xs);
            }
            sharedInfo = bytes(r, PAGE);
            hvmContext = hvmContextBlob(shape.vcpus(), r);
            hvmParams.put(1, shape.p2mSize() - 1);
            hvmParams.put(5, shape.p2mSize() - 2);
            hvmParams.put(6, shape.p2mSize() - 3);
            hvmParams.put(12, 0xFEFFC000L);
            hvmParams.put(9, 0x1FL);
            tsc = new TscInfo(1, 123456789L, 2_400_000, 7);
        }
    }

    void populateAll() {
        synchronized (dirtyLock) {
            for (long pfn = 0; pfn < shape.p2mSize(); pfn++) {
                populated[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
            }
        }
    }

    private static byte[] bytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt();
        }
        return b;
    }

    /** HEADER + one 1024-byte CPU record per vCPU + END: a structurally valid HVM context (§10). */
    static byte[] hvmContextBlob(int vcpus, SplittableRandom r) {
        ByteBuffer b = ByteBuffer.allocate(8 + 24 + vcpus * (8 + 1024) + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 1).putShort((short) 0).putInt(24);
        b.putInt(0x54381286).putInt(1).putLong(-1L).putInt(0x000306C3).putInt(0);
        for (int v = 0; v < vcpus; v++) {
            b.putShort((short) 2).putShort((short) v).putInt(1024);
            byte[] body = bytes(r, 1024);
            b.put(body);
        }
        b.putLong(0);
        return b.array();
    }

    void startRunning() {
        run.lock();
        try {
            paused = false;
        } finally {
            run.unlock();
        }
    }

    /**
     * Starts the guest workload: a writer thread that increments the counter of one page after another,
     * {@code hotPages} of them in a loop (a hot working set), {@code writesPerMilli} writes per
     * millisecond at full speed (0 = as fast as it can).
     */
    public synchronized void startWorkload(long hotPages, int writesPerMilli) {
        if (workload != null) {
            throw new IllegalStateException("workload already running");
        }
        long hot = Math.min(hotPages, shape.p2mSize());
        workloadStop = false;
        workload = Thread.ofPlatform().daemon().name("fake-workload-" + name()).start(() -> {
            long i = 0;
            long sliceStart = System.nanoTime();
            int inSlice = 0;
            while (!workloadStop && !destroyed) {
                run.lock();
                try {
                    while (paused && !workloadStop && !destroyed) {
                        resumed.awaitUninterruptibly();
                    }
                    if (workloadStop || destroyed) {
                        return;
                    }
                    long pfn = i++ % hot;
                    long off = pfn * PAGE;
                    memory.set(LONG, off, memory.get(LONG, off) + 1);
                    markDirty(pfn);
                } finally {
                    run.unlock();
                }
                int t = throttlePercent;
                if (writesPerMilli > 0 && ++inSlice >= writesPerMilli * (100 - t) / 100 + 1) {
                    inSlice = 0;
                    long next = sliceStart + 1_000_000;
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                    sliceStart = Math.max(next, System.nanoTime() - 1_000_000);
                } else if (t > 0 && writesPerMilli == 0 && (i % 64) == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(t * 1000L);
                }
            }
        });
    }

    public void stopWorkload() {
        Thread w;
        synchronized (this) {
            w = workload;
            workload = null;
        }
        if (w != null) {
            workloadStop = true;
            run.lock();
            try {
                resumed.signalAll();
            } finally {
                run.unlock();
            }
            try {
                w.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Pages 0..n-1 are reported dirty at every fetch while the guest runs (see {@link #alwaysDirty(long)}). */
    private volatile long alwaysDirty;

    /**
     * A guest that rewrites its first {@code hotPages} pages between any two reads of the dirty log, however
     * long a round takes: the dirty rate does not depend on how often the workload thread gets a CPU, so
     * "never converges" holds on a loaded machine too (the pages' contents do not change).
     */
    public void alwaysDirty(long hotPages) {
        this.alwaysDirty = hotPages;
    }

    private void markDirty(long pfn) {
        if (logEnabled) {
            synchronized (dirtyLock) {
                dirtyWords[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
            }
        }
    }

    /** Hashes memory at every pause (so a test can compare the destination with the source at the pause). */
    public void hashOnPause(boolean on) {
        hashOnPause = on;
    }

    public String hashAtPause() {
        return hashAtPause;
    }

    public int pauses() {
        return pauses.get();
    }

    public int resumes() {
        return resumes.get();
    }

    public boolean destroyed() {
        return destroyed;
    }

    public boolean running() {
        return !paused && !destroyed;
    }

    /** SHA-256 over every populated page (PFN and content) and the platform state. */
    public String memoryHash() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer pfnBuf = ByteBuffer.allocate(8);
            for (long pfn = 0; pfn < shape.p2mSize(); pfn++) {
                boolean pop;
                synchronized (dirtyLock) {
                    pop = (populated[(int) (pfn >>> 6)] & (1L << (pfn & 63))) != 0;
                }
                if (!pop) {
                    continue;
                }
                md.update(pfnBuf.clear().putLong(pfn).flip());
                md.update(memory.asSlice(pfn * PAGE, PAGE).asByteBuffer());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** A hash of the platform state a migration carries. */
    public synchronized String platformHash() {
        StringBuilder s = new StringBuilder();
        if (shape.guestType() == GuestType.HVM) {
            s.append(java.util.Arrays.hashCode(hvmContext)).append(new java.util.TreeMap<>(hvmParams));
        } else {
            for (int v = 0; v < shape.vcpus(); v++) {
                s.append(java.util.Arrays.hashCode(pvContexts.get(v))).append('/')
                        .append(java.util.Arrays.hashCode(pvExt.get(v))).append('/')
                        .append(java.util.Arrays.hashCode(pvXsave.get(v))).append(';');
            }
            s.append(java.util.Arrays.hashCode(sharedInfo)).append(java.util.Arrays.toString(p2mFrames));
        }
        s.append(tsc);
        return s.toString();
    }

    /** Corrupts one page in place without marking it dirty (verify-mode tests). */
    public void corruptSilently(long pfn) {
        memory.set(ValueLayout.JAVA_BYTE, pfn * PAGE + 100, (byte) (memory.get(ValueLayout.JAVA_BYTE, pfn * PAGE + 100) ^ 0x5A));
    }

    // ---- Domain ---------------------------------------------------------------------------------------

    private void checkAlive(String op) throws HypervisorException {
        if (destroyed) {
            throw new HypervisorException(op, name(), "domain is destroyed");
        }
    }

    @Override
    public DomainInfo info() throws HypervisorException {
        checkAlive("info");
        return new DomainInfo(name(), domid, shape.uuid(), shape.p2mSize(), shape.vcpus(), shape.guestType(),
                shape.guestWidth(), paused ? DomainState.PAUSED : DomainState.RUNNING);
    }

    @Override
    public void pause() throws HypervisorException {
        checkAlive("pause");
        run.lock();
        try {
            paused = true;
        } finally {
            run.unlock();
        }
        pauses.incrementAndGet();
        if (hashOnPause) {
            hashAtPause = memoryHash();
        }
    }

    @Override
    public void completeRestore() throws HypervisorException {
        checkAlive("completeRestore");
        String fault = hypervisor.failCompleteRestore;
        if (fault != null) {
            throw new HypervisorException("completeRestore", name(), fault);
        }
        completedRestores.incrementAndGet();
    }

    /** How often {@code completeRestore()} succeeded on this domain. */
    public int completedRestores() {
        return completedRestores.get();
    }

    @Override
    public void resume() throws HypervisorException {
        checkAlive("resume");
        run.lock();
        try {
            paused = false;
            resumed.signalAll();
        } finally {
            run.unlock();
        }
        resumes.incrementAndGet();
    }

    @Override
    public void destroy() throws HypervisorException {
        checkAlive("destroy");
        destroyed = true;
        stopWorkload();
        hypervisor.removed(this);
        releaseMemory();
    }

    void releaseMemory() {
        // destroy frees the memory (tests hash a source before it is destroyed: hashOnPause)
        arena.close();
        if (backingChannel != null) {
            try {
                backingChannel.close();
            } catch (IOException e) {
                // ignore
            }
        }
    }

    @Override
    public DirtyLog dirtyLog() {
        return new DirtyLog() {
            @Override
            public void enable() throws HypervisorException {
                checkAlive("enable log-dirty");
                synchronized (dirtyLock) {
                    java.util.Arrays.fill(dirtyWords, 0);
                    logEnabled = true;
                }
            }

            @Override
            public long fetchAndClear(DirtyBitmap into) throws HypervisorException {
                return copy(into, true);
            }

            @Override
            public long peek(DirtyBitmap into) throws HypervisorException {
                return copy(into, false);
            }

            private long copy(DirtyBitmap into, boolean clear) throws HypervisorException {
                checkAlive("fetch dirty log");
                if (!logEnabled) {
                    throw new HypervisorException("fetch dirty log", name(), "log-dirty is not enabled");
                }
                long n = 0;
                synchronized (dirtyLock) {
                    long hot = Math.min(alwaysDirty, shape.p2mSize());
                    if (!paused) {
                        for (long pfn = 0; pfn < hot; pfn++) {
                            dirtyWords[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
                        }
                    }
                    for (int i = 0; i < dirtyWords.length; i++) {
                        into.setWord(i, dirtyWords[i]);
                        n += Long.bitCount(dirtyWords[i]);
                        if (clear) {
                            dirtyWords[i] = 0;
                        }
                    }
                }
                for (long i = dirtyWords.length; i < into.wordCount(); i++) {
                    into.setWord(i, 0);
                }
                return n;
            }

            @Override
            public void disable() {
                logEnabled = false;
            }

            @Override
            public boolean enabled() {
                return logEnabled;
            }
        };
    }

    @Override
    public GuestMemory memory() {
        return new GuestMemory() {
            @Override
            public long p2mSize() {
                return shape.p2mSize();
            }

            @Override
            public long populated(DirtyBitmap into) throws HypervisorException {
                checkAlive("populated");
                long n = 0;
                synchronized (dirtyLock) {
                    for (int i = 0; i < populated.length; i++) {
                        into.setWord(i, populated[i]);
                        n += Long.bitCount(populated[i]);
                    }
                }
                return n;
            }

            @Override
            public PageMapping mapForRead(long[] pfns, int offset, int count) throws HypervisorException {
                checkAlive("map");
                if (count < 1 || count > 1024) {
                    throw new HypervisorException("map", name(), "count " + count);
                }
                long[] p = java.util.Arrays.copyOfRange(pfns, offset, offset + count);
                PageType[] types = new PageType[count];
                for (int i = 0; i < count; i++) {
                    if (p[i] < 0 || p[i] >= shape.p2mSize()) {
                        throw new HypervisorException("map", name(), "pfn " + p[i] + " beyond p2m");
                    }
                    boolean pop;
                    synchronized (dirtyLock) {
                        pop = (populated[(int) (p[i] >>> 6)] & (1L << (p[i] & 63))) != 0;
                    }
                    types[i] = broken.contains(p[i]) ? PageType.BROKEN : pop ? PageType.NOTAB : PageType.XTAB;
                }
                return new PageMapping() {
                    @Override
                    public int count() {
                        return count;
                    }

                    @Override
                    public long pfn(int i) {
                        return p[i];
                    }

                    @Override
                    public PageType type(int i) {
                        return types[i];
                    }

                    @Override
                    public MemorySegment page(int i) {
                        if (!types[i].hasData()) {
                            throw new IllegalStateException("no data for type " + types[i]);
                        }
                        return memory.asSlice(p[i] * PAGE, PAGE);
                    }

                    @Override
                    public void close() {
                    }
                };
            }

            @Override
            public void writePage(long pfn, PageType type, MemorySegment src) throws HypervisorException {
                checkAlive("writePage");
                if (!paused) {
                    throw new HypervisorException("writePage", name(), "domain is running");
                }
                if (pfn < 0 || pfn >= shape.p2mSize() || src.byteSize() != PAGE) {
                    throw new HypervisorException("writePage", name(), "bad pfn " + pfn + " or size " + src.byteSize());
                }
                MemorySegment.copy(src, 0, memory, pfn * PAGE, PAGE);
                if (pfn == hypervisor.corruptPfnOnFirstWrite.get()
                        && hypervisor.corruptPfnOnFirstWrite.compareAndSet(pfn, -1)) {
                    corruptSilently(pfn);
                }
                synchronized (dirtyLock) {
                    populated[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
                }
            }

            @Override
            public void populateOnly(long pfn, PageType type) throws HypervisorException {
                checkAlive("populateOnly");
                synchronized (dirtyLock) {
                    switch (type) {
                        case XTAB -> populated[(int) (pfn >>> 6)] &= ~(1L << (pfn & 63));
                        default -> populated[(int) (pfn >>> 6)] |= 1L << (pfn & 63);
                    }
                }
                if (type == PageType.BROKEN) {
                    synchronized (FakeDomain.this) {
                        broken.add(pfn);
                    }
                }
            }
        };
    }

    @Override
    public PlatformState platform() {
        FakeDomain d = this;
        return new PlatformState() {
            @Override
            public BitSet onlineVcpus() {
                BitSet b = new BitSet();
                b.set(0, shape.vcpus());
                return b;
            }

            @Override
            public byte[] pvVcpuContext(int vcpu) {
                synchronized (d) {
                    return pvContexts.get(vcpu).clone();
                }
            }

            @Override
            public void setPvVcpuContext(int vcpu, byte[] context) {
                synchronized (d) {
                    pvContexts.put(vcpu, context.clone());
                }
            }

            @Override
            public byte[] pvExtendedContext(int vcpu) {
                synchronized (d) {
                    return pvExt.get(vcpu).clone();
                }
            }

            @Override
            public void setPvExtendedContext(int vcpu, byte[] context) {
                synchronized (d) {
                    pvExt.put(vcpu, context.clone());
                }
            }

            @Override
            public byte[] pvXsave(int vcpu) {
                synchronized (d) {
                    return pvXsave.get(vcpu).clone();
                }
            }

            @Override
            public void setPvXsave(int vcpu, byte[] xsave) {
                synchronized (d) {
                    pvXsave.put(vcpu, xsave.clone());
                }
            }

            @Override
            public byte[] sharedInfo() {
                synchronized (d) {
                    return sharedInfo.clone();
                }
            }

            @Override
            public void setSharedInfo(byte[] page) {
                synchronized (d) {
                    sharedInfo = page.clone();
                }
            }

            @Override
            public long[] p2mFrameList() {
                synchronized (d) {
                    return p2mFrames.clone();
                }
            }

            @Override
            public void setP2mFrameList(long[] frames) {
                synchronized (d) {
                    p2mFrames = frames.clone();
                }
            }

            @Override
            public byte[] hvmContext() {
                synchronized (d) {
                    return hvmContext.clone();
                }
            }

            @Override
            public void setHvmContext(byte[] blob) {
                synchronized (d) {
                    hvmContext = blob.clone();
                }
            }

            @Override
            public Map<Integer, Long> hvmParams() {
                synchronized (d) {
                    return Map.copyOf(hvmParams);
                }
            }

            @Override
            public void setHvmParam(int index, long value) {
                synchronized (d) {
                    hvmParams.put(index, value);
                }
            }

            @Override
            public TscInfo tscInfo() {
                synchronized (d) {
                    return tsc;
                }
            }

            @Override
            public void setTscInfo(TscInfo info) {
                synchronized (d) {
                    tsc = info;
                }
            }
        };
    }

    @Override
    public Optional<Throttle> throttle() {
        if (!hypervisor.capabilities().contains(dev.migrationd.hypervisor.Capability.THROTTLE)) {
            return Optional.empty();
        }
        return Optional.of(new Throttle() {
            @Override
            public void setPercent(int percent) throws HypervisorException {
                if (percent < 0 || percent > MAX_PERCENT) {
                    throw new HypervisorException("throttle", name(), "percent " + percent);
                }
                throttlePercent = percent;
            }

            @Override
            public int percent() {
                return throttlePercent;
            }
        });
    }
}
