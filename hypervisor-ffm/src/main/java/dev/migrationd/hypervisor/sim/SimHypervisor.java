package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The simulated hypervisor, the embedded default backend ({@code sim}). Domains are real: memory is a
 * file on a shared-memory file system (RAM, see {@link SimMemoryDir}) mapped MAP_SHARED and committed
 * lazily, vCPUs are platform threads writing it, the dirty log has Xen's semantics. The rest of a domain
 * lives under {@code <stateDir>/sim/<name>/}, so a SimHypervisor reopened on the same state directory finds
 * its domains as they were (running domains run on, paused ones stay paused); after a host reboot their
 * memory is gone and so are they, as real guests would be. One process owns a state directory at a time
 * (a file lock on {@code sim/.lock}).
 *
 * <p><b>Layout</b>: {@code <stateDir>/sim/}: {@code .lock}; {@code host.properties} (the next domid and the
 * key of the memory directory); per domain {@code <name>/p2m} (one byte per PFN: populated bit and page
 * type), {@code <name>/vcpu-registers} (the workload's registers, mapped, updated by the vCPUs on every
 * write) and {@code <name>/domain.properties} (identity, shape, run state, vCPU/platform state; written
 * atomically and fsync'd on every state change). Guest memory: {@code /dev/shm/migrationd-sim-<key>/<domid>.memory}
 * (sparse, p2m_size × 4 KiB). A domain made by a version that kept its memory in {@code <name>/memory} is
 * still mapped from there.
 *
 * <p><b>Memory backing</b>, measured on the project's 2-core machines (1 GiB, one store per page): a
 * file-backed MAP_SHARED mapping on ext4 first-touches at ~0.25 GiB/s (block allocation in page_mkwrite),
 * stalls on journal commits and is written back to disk for nothing; a shared-memory file first-touches at
 * ~1.5 GiB/s, anonymous memory at ~2.5 GiB/s. Shared memory is what RAM-backed guest memory that outlives its
 * daemon costs (anonymous memory dies with the process). A restore's memory is populated ahead of the stream
 * on another thread ({@link PopulateAhead}). Huge pages: MADV_HUGEPAGE is asked for; a tmpfs gives them only
 * when mounted with {@code huge=advise} (or {@code always}), which /dev/shm usually is not, and then it is
 * no cost. Measured on a loaded 2-core VM (load 19-24, 512 MiB, one copy per 4 KiB page): first touches page
 * by page 0.04-0.05 GiB/s with huge pages against 0.01 GiB/s without; MADV_POPULATE_WRITE 0.03-0.04 against
 * 0.09-0.15 GiB/s; rewrites no slower. So the request stays, and the host's mount decides.
 *
 * <p>Thread-safety: safe for concurrent use; the domain table is guarded by {@code this}.
 */
public final class SimHypervisor implements Hypervisor {

    private static final Logger LOG = LoggerFactory.getLogger(SimHypervisor.class);
    public static final String BACKEND = "sim";
    /** Largest domain id handed out (Xen's DOMID_FIRST_RESERVED - 1). */
    public static final int MAX_DOMID = 0x7FEF;
    static final String CREATING_PREFIX = ".creating-";
    static final String DESTROYING_PREFIX = ".destroying-";
    static final String HOST_FILE = "host.properties";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final int PAGE = StreamLimits.PAGE_SIZE;
    private static final int GUEST_TSC_KHZ = 2_400_000;

    private final Path root;
    /** The shared-memory file system guest memory lives on (see SimMemoryDir). */
    private final Path shm;
    /** This state directory's guest memory directory; set once by loadAll, before any other use. */
    private SimMemoryDir memoryDir;
    /** The key naming {@link #memoryDir}, kept in host.properties; set once by loadAll. */
    private String memoryKey;
    private final FileChannel lockChannel;
    private final FileLock lock;
    /** Guarded by this. */
    private final Map<String, SimDomain> byName = new HashMap<>();
    /** Guarded by this. */
    private int nextDomid = 1;
    /** Guarded by this. */
    private boolean closed;

    /**
     * Frees destroyed domains (unmaps their memory, deletes their renamed directory) in the background:
     * a single platform thread named {@code sim-reaper}, so that its CPU can be told apart. A directory it
     * did not get to (the daemon stopped or was killed) is removed at the next start (loadAll).
     */
    private final java.util.concurrent.ExecutorService reaper = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "sim-reaper");
        t.setDaemon(true);
        return t;
    });
    /** How long close() waits for the reaper. */
    static final long REAPER_CLOSE_WAIT_SECONDS = 60;

    /** Hands a destroyed domain's resources and directory to the reaper (frees them here when closing). */
    void reap(String name, Path doomed, Runnable closeResources) {
        Runnable free = () -> {
            long t0 = System.nanoTime();
            try {
                closeResources.run();
                AtomicFiles.deleteTree(doomed);
                LOG.info("event=domain_memory_freed domain={} ms={}", name, (System.nanoTime() - t0) / 1_000_000);
            } catch (IOException | RuntimeException e) {
                LOG.warn("event=domain_reap_failed domain={} dir={} reason=\"{}\"", name, doomed, e.getMessage());
            }
        };
        try {
            reaper.execute(free);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            free.run();
        }
    }

    /**
     * Prefaults on the {@code sim-prefault} platform thread and waits for it: the work is the hypervisor's
     * (a real host's kernel or Xen populates a new guest's memory), and a thread of its own lets its CPU be
     * told apart from the migration's (the benchmark reads it per thread).
     */
    private void prefaultOnItsThread(SimDomain dom) throws HypervisorException {
        java.util.concurrent.Future<?> f = prefaulter.submit(() -> {
            dom.prefaultMemory();
            return null;
        });
        try {
            f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof HypervisorException he) {
                throw he;
            }
            throw new HypervisorException("prefault", dom.name(), String.valueOf(e.getCause()), e.getCause());
        } catch (InterruptedException e) {
            f.cancel(false);
            Thread.currentThread().interrupt();
            throw new HypervisorException("prefault", dom.name(), "interrupted");
        }
    }

    private final java.util.concurrent.ExecutorService prefaulter = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "sim-prefault");
        t.setDaemon(true);
        return t;
    });

    /** Waits until every domain destroyed so far has been freed (tests, and the benchmark's CPU accounting). */
    public void awaitReaped() throws InterruptedException {
        try {
            reaper.submit(() -> { }).get();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.RejectedExecutionException e) {
            // nothing pending
        }
    }

    /** Whether restores prefault their memory; set once after open, before any use. */
    private volatile boolean prefault;

    /**
     * Makes every domain built for a restore prefault its whole memory before the restore starts (like
     * QEMU's {@code -mem-prealloc} on an incoming guest): the set-up takes longer (first touches of fresh
     * memory, ~0.6–2.4 GiB/s on these machines), and the stream then writes into memory that takes no page
     * fault, so page writes run at copy speed and rounds measure the link, not the allocator.
     */
    public void setPrefault(boolean prefault) {
        this.prefault = prefault;
    }

    public boolean prefault() {
        return prefault;
    }

    /** Whether allocate-only pages of a restore keep stale contents (Xen's allocator); set once after open. */
    private volatile boolean unscrubbedAllocations;

    /**
     * Makes this backend allocate like Xen: a page a restore populates without data (an XALLOC entry) holds
     * stale bytes, as a page another domain freed does, instead of zeros, and {@link Capability#ZEROED_ALLOCATION}
     * is no longer offered. A source that relied on allocated pages reading as zero leaves garbage in the guest.
     */
    public void setUnscrubbedAllocations(boolean unscrubbed) {
        this.unscrubbedAllocations = unscrubbed;
    }

    boolean unscrubbedAllocations() {
        return unscrubbedAllocations;
    }

    private SimHypervisor(Path root, Path shm, FileChannel lockChannel, FileLock lock) {
        this.root = root;
        this.shm = shm;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /** Removes stale sim memory directories (see SimMemoryDir): those of state directories that are gone. */
    public static int removeStaleMemory() {
        return SimMemoryDir.removeStale(SimMemoryDir.DEFAULT_SHM);
    }

    /** Checks a domain name: 1–64 of {@code [A-Za-z0-9_.-]}, not starting with '.', '_' or '-'. */
    static void checkName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad domain name '" + name
                    + "': use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit");
        }
    }

    /** Opens the sim backend on {@code stateDir}, resuming every domain found there. */
    public static SimHypervisor open(Path stateDir) throws HypervisorException {
        return open(stateDir, SimMemoryDir.DEFAULT_SHM);
    }

    /** As {@link #open(Path)}, with guest memory on the shared-memory file system mounted at {@code shm}. */
    static SimHypervisor open(Path stateDir, Path shm) throws HypervisorException {
        Path root = stateDir.resolve(BACKEND);
        FileChannel ch = null;
        try {
            Files.createDirectories(root);
            ch = FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new HypervisorException("open", null, "state directory " + root + " is in use by another sim hypervisor");
            }
            SimHypervisor hv = new SimHypervisor(root, shm, ch, lock);
            ch = null;
            try {
                hv.loadAll();
            } catch (HypervisorException | RuntimeException e) {
                hv.close();
                throw e;
            }
            return hv;
        } catch (IOException e) {
            throw new HypervisorException("open", null, "cannot use state directory " + root + ": " + e.getMessage(), e);
        } finally {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // the open failed already; that error is the one reported
                }
            }
        }
    }

    private void loadAll() throws HypervisorException, IOException {
        Path host = root.resolve(HOST_FILE);
        String key = null;
        if (Files.exists(host)) {
            Properties p = new Properties();
            try (var r = Files.newBufferedReader(host, StandardCharsets.ISO_8859_1)) {
                p.load(r);
            }
            try {
                int n = Integer.parseInt(p.getProperty("nextDomid", "1").trim());
                nextDomid = n >= 1 && n <= MAX_DOMID ? n : 1;
            } catch (NumberFormatException e) {
                throw new HypervisorException("open", null, host + ": nextDomid is not a number");
            }
            key = p.getProperty(SimMemoryDir.KEY_PROPERTY);
            if (key != null && !SimMemoryDir.validKey(key.trim())) {
                throw new HypervisorException("open", null, host + ": " + SimMemoryDir.KEY_PROPERTY
                        + " is not 32 lower-case hex digits");
            }
        }
        if (key == null) {
            memoryKey = SimMemoryDir.newKey();
            storeHost("open");
        } else {
            memoryKey = key.trim();
        }
        // other state directories' memory first (deleted test or benchmark directories), then ours
        SimMemoryDir.removeStale(shm);
        memoryDir = SimMemoryDir.open(shm, root, memoryKey);
        List<Path> dirs = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(root)) {
            for (Path p : s) {
                if (Files.isDirectory(p)) {
                    dirs.add(p);
                }
            }
        }
        dirs.sort(Comparator.naturalOrder());
        for (Path dir : dirs) {
            String fn = dir.getFileName().toString();
            if (fn.startsWith(CREATING_PREFIX) || fn.startsWith(DESTROYING_PREFIX)) {
                LOG.info("event=leftover_removed dir={}", dir);
                AtomicFiles.deleteTree(dir);
                continue;
            }
            SimDomain d = load(dir);
            if (d == null) {
                continue;
            }
            byName.put(d.name(), d);
            nextDomid = Math.max(nextDomid, d.domid() + 1);
        }
        // memory of domains that are not here: a build or a destroy that the daemon did not finish
        memoryDir.removeOrphans(byName.values().stream().filter(d -> d.memoryFile().getParent().equals(memoryDir.dir()))
                .map(SimDomain::domid).collect(java.util.stream.Collectors.toSet()));
        for (SimDomain d : byName.values()) {
            d.start();
            LOG.info("event=domain_found domain={} domid={} state={}", d.name(), d.domid(), d.meta().state);
        }
    }

    /** Loads the domain in {@code dir}; null when its memory is gone (the host was restarted) and it was removed. */
    private SimDomain load(Path dir) throws HypervisorException {
        SimMetadata m;
        try {
            m = SimMetadata.load(dir);
        } catch (IOException e) {
            throw new HypervisorException("open", dir.getFileName().toString(), "bad domain metadata: " + e.getMessage(), e);
        }
        if (!m.name.equals(dir.getFileName().toString())) {
            Path named = dir.resolveSibling(m.name);
            if (Files.exists(named)) {
                throw new HypervisorException("open", m.name, "metadata in " + dir + " names another domain");
            }
            // a rename stopped between its metadata and its directory: finish it
            try {
                Files.move(dir, named, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new HypervisorException("open", m.name, "cannot finish renaming " + dir + ": " + e.getMessage(), e);
            }
            LOG.info("event=rename_finished domain={} from_dir={}", m.name, dir.getFileName());
            dir = named;
        }
        for (SimDomain other : byName.values()) {
            if (other.domid() == m.domid) {
                throw new HypervisorException("open", m.name, "domid " + m.domid + " is also used by " + other.name());
            }
        }
        Path memoryFile = memoryFileOf(dir, m.domid);
        if (!Files.exists(memoryFile)) {
            // RAM does not survive the host: the guest is gone, as a real one would be after a reboot
            LOG.warn("event=domain_lost domain={} domid={} reason=\"guest memory {} is gone (the host was restarted?)\"",
                    m.name, m.domid, memoryFile);
            try {
                AtomicFiles.deleteTree(dir);
            } catch (IOException e) {
                throw new HypervisorException("open", m.name, "cannot remove the lost domain's " + dir + ": " + e.getMessage(), e);
            }
            return null;
        }
        try {
            long expected = m.p2mSize * PAGE;
            long actual = Files.size(memoryFile);
            if (actual != expected) {
                throw new HypervisorException("open", m.name, "memory file has " + actual + " bytes, metadata says " + expected);
            }
            if (Files.size(dir.resolve(SimDomain.P2M_FILE)) != m.p2mSize) {
                throw new HypervisorException("open", m.name, "p2m file size does not match p2mSize " + m.p2mSize);
            }
        } catch (IOException e) {
            throw new HypervisorException("open", m.name, "missing domain file: " + e.getMessage(), e);
        }
        return mapDomain(dir, m, false);
    }

    /**
     * Where the memory of the domain in {@code dir} is: in the shared-memory directory; or, for a domain made
     * by a version that kept guest memory in the state directory, the {@code memory} file there, which is
     * still used as it is.
     */
    private Path memoryFileOf(Path dir, int domid) {
        Path legacy = dir.resolve(SimDomain.LEGACY_MEMORY_FILE);
        return Files.exists(legacy) ? legacy : memoryDir.memoryFile(domid);
    }

    /** Deletes a destroyed domain's memory file when it is in the shared-memory directory (the mapping lives on until unmapped). */
    void deleteMemoryFile(int domid, Path memoryFile) {
        if (memoryFile.equals(memoryDir.memoryFile(domid))) {
            memoryDir.delete(domid);
        }
    }

    /** @param fresh a new domain: its memory file must not exist yet (else: it must) */
    private SimDomain mapDomain(Path dir, SimMetadata m, boolean fresh) throws HypervisorException {
        List<MappedFile> opened = new ArrayList<>();
        try {
            Path memoryFile = fresh ? memoryDir.memoryFile(m.domid) : memoryFileOf(dir, m.domid);
            MappedFile mem = MappedFile.open(memoryFile, m.p2mSize * PAGE, true, fresh ? Libc.O_CREAT | Libc.O_EXCL : 0);
            opened.add(mem);
            MappedFile p2m = MappedFile.open(dir.resolve(SimDomain.P2M_FILE), m.p2mSize, false);
            opened.add(p2m);
            MappedFile regs = MappedFile.open(dir.resolve(SimDomain.REGISTER_FILE), (long) m.vcpus * SimDomain.REG_STRIDE, false);
            opened.add(regs);
            return new SimDomain(this, dir, m, mem, p2m, regs);
        } catch (NativeCallException | RuntimeException e) {
            opened.forEach(MappedFile::close);
            if (fresh && !opened.isEmpty()) {
                memoryDir.delete(m.domid);
            }
            throw new HypervisorException("map", m.name, e instanceof NativeCallException n ? n.problem() : e.getMessage(), e);
        }
    }

    @Override
    public String backend() {
        return BACKEND;
    }

    @Override
    public Set<Capability> capabilities() {
        // memory files start as holes (zero); only the Xen-like mode hands out stale pages
        return unscrubbedAllocations ? EnumSet.of(Capability.THROTTLE, Capability.RESTORE, Capability.RENAME)
                : EnumSet.of(Capability.THROTTLE, Capability.RESTORE, Capability.RENAME, Capability.ZEROED_ALLOCATION);
    }

    @Override
    public synchronized List<DomainInfo> listDomains() throws HypervisorException {
        checkOpen("list");
        List<DomainInfo> out = new ArrayList<>();
        for (SimDomain d : byName.values()) {
            // a domain whose destroy is under way (its files are being deleted) is no longer listed,
            // as Xen leaves out dying domains; the destroy runs under the domain's lock, not ours
            if (d.destroyed()) {
                continue;
            }
            try {
                out.add(d.info());
            } catch (HypervisorException e) {
                if (!d.destroyed()) {
                    throw e;
                }
            }
        }
        out.sort(Comparator.comparingInt(DomainInfo::domid));
        return out;
    }

    @Override
    public synchronized Optional<Domain> findDomain(String name) throws HypervisorException {
        checkOpen("lookup");
        return Optional.ofNullable(byName.get(name)).filter(d -> !d.destroyed()).map(d -> d);
    }

    @Override
    public synchronized Optional<Domain> findDomain(int domid) throws HypervisorException {
        checkOpen("lookup");
        return byName.values().stream().filter(d -> d.domid() == domid && !d.destroyed()).<Domain>map(d -> d).findFirst();
    }

    /** The sim domain called {@code name}, with the sim-only operations. */
    public synchronized SimDomain simDomain(String name) throws HypervisorException {
        checkOpen("lookup");
        SimDomain d = byName.get(name);
        if (d == null) {
            throw new HypervisorException("lookup", name, "no such domain");
        }
        return d;
    }

    private void checkOpen(String op) throws HypervisorException {
        if (closed) {
            throw new HypervisorException(op, null, "sim hypervisor is closed");
        }
    }

    /** Renames {@code d} (see {@link SimDomain#moveTo}); the new name must be valid and free. */
    synchronized void rename(SimDomain d, String newName) throws HypervisorException {
        checkOpen("rename");
        try {
            checkName(newName);
        } catch (IllegalArgumentException e) {
            throw new HypervisorException("rename", d.name(), e.getMessage());
        }
        SimDomain other = byName.get(newName);
        if (other != null && !other.destroyed()) {
            throw new HypervisorException("rename", d.name(), "a domain named " + newName + " exists");
        }
        String old = d.name();
        d.moveTo(root.resolve(newName), newName);
        byName.remove(old, d);
        byName.put(newName, d);
    }

    void forget(SimDomain d) {
        synchronized (this) {
            byName.remove(d.name(), d);
        }
    }

    private int allocateDomid() throws HypervisorException {
        for (int tries = 0; tries < MAX_DOMID; tries++) {
            int id = nextDomid;
            nextDomid = nextDomid >= MAX_DOMID ? 1 : nextDomid + 1;
            if (byName.values().stream().noneMatch(d -> d.domid() == id)) {
                storeHost("create");
                return id;
            }
        }
        throw new HypervisorException("create", null, "no free domain id");
    }

    /** Writes host.properties: the next domid and the memory key. Called with this locked (or before it is shared). */
    private void storeHost(String op) throws HypervisorException {
        Properties p = new Properties();
        p.setProperty("nextDomid", Integer.toString(nextDomid));
        p.setProperty(SimMemoryDir.KEY_PROPERTY, memoryKey);
        try {
            java.io.StringWriter w = new java.io.StringWriter();
            p.store(w, "sim hypervisor host state");
            AtomicFiles.write(root.resolve(HOST_FILE), w.toString().getBytes(StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            throw new HypervisorException(op, null, "cannot persist " + root.resolve(HOST_FILE) + ": " + e.getMessage(), e);
        }
    }

    /** Creates and starts (or leaves paused) a sim domain with its workload. */
    public synchronized SimDomain create(SimDomainSpec spec) throws HypervisorException {
        checkOpen("create");
        SimLayout layout;
        try {
            layout = SimLayout.of(spec.guestType(), spec.guestWidth(), spec.p2mSize());
        } catch (IllegalArgumentException e) {
            throw new HypervisorException("create", spec.name(), e.getMessage());
        }
        if (spec.fill() == SimDomainSpec.Fill.RANDOM) {
            checkSpace("create", spec.name(), spec.memoryBytes());
        }
        SimMetadata m = newMetadata(spec.name(), UUID.randomUUID(), spec.p2mSize(), spec.vcpus(), spec.guestType(),
                spec.guestWidth(), "sim", spec.paused() ? DomainState.PAUSED : DomainState.RUNNING);
        if (spec.guestType() == GuestType.PV) {
            for (int v = 0; v < spec.vcpus(); v++) {
                m.pvContexts[v] = SimX86.pvContext(spec.guestWidth(), v, layout.topTablePfn(), SimLayout.START_INFO_PFN);
            }
        }
        SimDomain d = build(m, (dom, mem, p2m) -> {
            if (spec.fill() == SimDomainSpec.Fill.RANDOM) {
                // every page is about to be written: populate them in one call rather than one fault each
                // (measured on this project's VMs: ~0.4-0.9 GiB/s against 0.03-0.05 GiB/s page by page under load)
                dom.prefaultMemory();
            }
            populate(dom, layout, mem, p2m, spec);
        });
        LOG.info("event=domain_created domain={} domid={} type={} width={} memory={} vcpus={} fill={} workload=\"{}\"",
                m.name, m.domid, m.guestType, m.width.bits(), spec.memoryBytes(), m.vcpus,
                spec.fill().name().toLowerCase(java.util.Locale.ROOT), spec.workload());
        return d;
    }

    @Override
    public synchronized Domain createForRestore(DomainShape shape) throws HypervisorException {
        checkOpen("create_for_restore");
        try {
            SimLayout.of(shape.guestType(), shape.guestWidth(), shape.p2mSize());
            if (shape.vcpus() > SimDomainSpec.MAX_VCPUS) {
                throw new IllegalArgumentException("sim domains have at most " + SimDomainSpec.MAX_VCPUS + " vCPUs");
            }
            if (shape.guestType() == GuestType.HVM && shape.guestWidth() != Width.W64) {
                throw new IllegalArgumentException("HVM guests report a 64-bit width");
            }
            checkName(shape.name());
        } catch (IllegalArgumentException e) {
            throw new HypervisorException("create_for_restore", shape.name(), e.getMessage());
        }
        checkSpace("create_for_restore", shape.name(), shape.memoryBytes());
        SimMetadata m = newMetadata(shape.name(), shape.uuid(), shape.p2mSize(), shape.vcpus(), shape.guestType(),
                shape.guestWidth(), "restore", DomainState.PAUSED);
        if (shape.guestType() == GuestType.PV) {
            for (int v = 0; v < shape.vcpus(); v++) {
                m.pvContexts[v] = new byte[SimX86.pvContextSize(shape.guestWidth())];
            }
            m.p2mFrames = new long[0];
        }
        boolean pf = prefault;
        long t0 = System.nanoTime();
        SimDomain d = build(m, (dom, mem, p2m) -> {
            if (pf) {
                prefaultOnItsThread(dom);
            }
        });
        d.beginRestore();
        if (!pf) {
            // populate while the pages arrive, on another core, instead of page by page in the thread that
            // reads the socket (or all of it before Accept, as --sim-prefault does)
            d.startPopulateAhead();
        }
        LOG.info("event=domain_created_for_restore domain={} domid={} type={} p2m_size={} vcpus={} prefault={} setup_ms={}",
                m.name, m.domid, m.guestType, m.p2mSize, m.vcpus, pf, (System.nanoTime() - t0) / 1_000_000);
        return d;
    }

    /** Guest memory is on the shared-memory file system: its free space (statvfs f_bavail). */
    @Override
    public OptionalLong freeSpaceForRestore() throws HypervisorException {
        return OptionalLong.of(usableBytes("free_space", null));
    }

    /**
     * Free space of the shared-memory file system: statvfs on the directory itself, not the JDK's file-store
     * lookup, which needs the mount table to name the directory's mount point and fails in a chroot ("Mount
     * point not found").
     */
    private long usableBytes(String op, String name) throws HypervisorException {
        try {
            return memoryDir.usableBytes();
        } catch (NativeCallException e) {
            throw new HypervisorException(op, name, "cannot read free space of " + shm + ": " + e.problem(), e);
        }
    }

    /**
     * A guest that will be filled (a restore, a random fill) needs that much room on the shared-memory file
     * system, as a real host needs free RAM (a write to a full one would kill the daemon with SIGBUS). An idle
     * sim guest is sparse and is not checked.
     */
    private void checkSpace(String op, String name, long bytes) throws HypervisorException {
        long usable = usableBytes(op, name);
        if (usable < bytes) {
            throw new HypervisorException(op, name, "memory is short: the guest needs " + bytes + " bytes, "
                    + shm + " has " + usable + " free");
        }
    }

    private SimMetadata newMetadata(String name, UUID uuid, long p2mSize, int vcpus, GuestType type, Width width,
                                    String origin, DomainState state) {
        SimMetadata m = new SimMetadata();
        m.name = name;
        m.uuid = uuid;
        m.p2mSize = p2mSize;
        m.vcpus = vcpus;
        m.guestType = type;
        m.width = width;
        m.origin = origin;
        m.state = state;
        m.tsc = new TscInfo(0, 0, GUEST_TSC_KHZ, 0);
        if (type == GuestType.PV) {
            m.pvContexts = new byte[vcpus][];
            m.extContexts = new byte[vcpus][];
            for (int v = 0; v < vcpus; v++) {
                m.extContexts[v] = SimX86.extendedContext(v);
            }
            m.sharedInfo = SimX86.sharedInfo(width, vcpus, p2mSize);
            m.p2mFrames = new long[0];
        } else {
            m.hvmContext = SimX86.hvmContext(vcpus, GUEST_TSC_KHZ);
        }
        return m;
    }

    @FunctionalInterface
    private interface Populator {
        void fill(SimDomain d, MemorySegment memory, MemorySegment p2m) throws HypervisorException;
    }

    /**
     * Builds a domain in {@code .creating-<name>}, then renames it into place: a crash or an error
     * leaves no half-built domain (leftovers are removed at the next open). Called with this locked.
     */
    private SimDomain build(SimMetadata m, Populator populator) throws HypervisorException {
        if (byName.containsKey(m.name)) {
            throw new HypervisorException("create", m.name, "a domain with this name exists (domid "
                    + byName.get(m.name).domid() + ")");
        }
        Path finalDir = root.resolve(m.name);
        Path tmp = root.resolve(CREATING_PREFIX + m.name);
        if (Files.exists(finalDir)) {
            throw new HypervisorException("create", m.name, finalDir + " exists but is not a known domain");
        }
        m.domid = allocateDomid();
        SimDomain d = null;
        try {
            AtomicFiles.deleteTree(tmp);
            Files.createDirectories(tmp);
            d = mapDomain(tmp, m, true);
            populator.fill(d, d.memorySegment(), d.p2mTable());
            m.store(tmp);
            Files.move(tmp, finalDir, StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.fsyncDirectory(root);
            d.setDir(finalDir);
        } catch (IOException | HypervisorException | RuntimeException e) {
            if (d != null) {
                d.detachQuietly();
                memoryDir.delete(m.domid);
            }
            try {
                AtomicFiles.deleteTree(tmp);
            } catch (IOException cleanup) {
                LOG.warn("event=cleanup_failed dir={} reason=\"{}\"", tmp, cleanup.getMessage());
            }
            if (e instanceof HypervisorException he) {
                throw he;
            }
            throw new HypervisorException("create", m.name, e.getMessage(), e);
        }
        byName.put(m.name, d);
        d.start();
        return d;
    }

    /** Lays out a new sim guest: p2m types, page tables, the guest's p2m, descriptor, registers, fill. */
    private static void populate(SimDomain d, SimLayout layout, MemorySegment mem, MemorySegment p2m,
                                 SimDomainSpec spec) {
        long n = layout.p2mSize();
        SimMetadata m = d.meta();
        if (layout.type() == GuestType.HVM) {
            p2m.fill((byte) (SimDomain.POPULATED | PageType.NOTAB.nibble()));
            m.hvmParams.put(HvmParamIndex.HVM_PARAM_STORE_PFN, layout.storePfn());
            m.hvmParams.put(HvmParamIndex.HVM_PARAM_IOREQ_PFN, layout.ioreqPfn());
            m.hvmParams.put(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, layout.bufioreqPfn());
        } else {
            for (long pfn = 0; pfn < n; pfn++) {
                PageType t = layout.isHole(pfn) ? null : layout.pageTableType(pfn);
                if (!layout.isHole(pfn)) {
                    d.setType(pfn, t == null ? PageType.NOTAB : t);
                }
            }
            writePvTables(layout, mem);
            long[] frames = new long[(int) layout.p2mFrames()];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = layout.p2mFirst() + i;
            }
            m.p2mFrames = frames;
            writeStartInfo(layout, mem);
        }
        spec.workload().writeTo(mem.asSlice(SimLayout.DESCRIPTOR_PFN * PAGE, PAGE));
        for (int v = 0; v < spec.vcpus(); v++) {
            d.setRegister(v, SimX86.REG_COUNTER, 0);
            d.setRegister(v, SimX86.REG_RNG, m.uuid.getLeastSignificantBits() ^ (0x9E3779B97F4A7C15L * (v + 1)) | 1);
            d.setRegister(v, SimX86.REG_CURSOR, 0);
        }
        if (spec.fill() == SimDomainSpec.Fill.RANDOM) {
            SplittableRandom rnd = new SplittableRandom(m.uuid.getMostSignificantBits());
            for (long i = 0; i < layout.dataPages(); i++) {
                long off = layout.dataPfn(i) * PAGE;
                for (int j = 0; j < PAGE; j += 8) {
                    mem.set(ValueLayout.JAVA_LONG, off + j, rnd.nextLong());
                }
            }
        }
    }

    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Present, RW, user, accessed, dirty. */
    private static final long PTE_FLAGS = 0x67;

    /** PV page tables in PFN form (the sim keeps them canonical) and the guest's p2m (MFN = PFN in the sim). */
    private static void writePvTables(SimLayout layout, MemorySegment mem) {
        long top = SimLayout.PT_FIRST;
        long l1First = SimLayout.PT_FIRST + layout.levels() - 1;
        long l2 = l1First - 1;
        if (layout.levels() == 4) {
            long l3 = top + 1;
            mem.set(LE_LONG, top * PAGE, (l3 << 12) | PTE_FLAGS);
            mem.set(LE_LONG, l3 * PAGE, (l2 << 12) | PTE_FLAGS);
        } else {
            mem.set(LE_LONG, top * PAGE, (l2 << 12) | 1); // PAE L3 entries: present only
        }
        long mapped = Math.min(layout.p2mSize(), SimLayout.MAPPED_PAGES);
        for (int i = 0; i < layout.l1Pages(); i++) {
            long l1 = l1First + i;
            mem.set(LE_LONG, l2 * PAGE + i * 8L, (l1 << 12) | PTE_FLAGS);
            for (int j = 0; j < 512; j++) {
                long pfn = i * 512L + j;
                if (pfn < mapped && !layout.isHole(pfn)) {
                    mem.set(LE_LONG, l1 * PAGE + j * 8L, (pfn << 12) | PTE_FLAGS);
                }
            }
        }
        long base = layout.p2mFirst() * PAGE;
        int gw = layout.width().bytes();
        for (long pfn = 0; pfn < layout.p2mSize(); pfn++) {
            long mfn = layout.isHole(pfn) ? -1L : pfn;
            if (gw == 8) {
                mem.set(LE_LONG, base + pfn * 8, mfn);
            } else {
                mem.set(LE_INT, base + pfn * 4, (int) mfn);
            }
        }
    }

    private static void writeStartInfo(SimLayout layout, MemorySegment mem) {
        String magic = layout.width() == Width.W64 ? "xen-3.0-x86_64" : "xen-3.0-x86_32p";
        MemorySegment si = mem.asSlice(SimLayout.START_INFO_PFN * PAGE, PAGE);
        byte[] b = magic.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(b, 0, si, ValueLayout.JAVA_BYTE, 0, b.length);
        if (layout.width() == Width.W64) {
            si.set(LE_LONG, 32, layout.p2mSize()); // nr_pages
        } else {
            si.set(LE_INT, 32, (int) layout.p2mSize());
        }
    }

    /** Stops the vCPU threads and unmaps; the domains stay on disk in their state and are found again by {@link #open}. */
    @Override
    public void close() throws HypervisorException {
        List<SimDomain> domains;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            domains = new ArrayList<>(byName.values());
            byName.clear();
        }
        for (SimDomain d : domains) {
            d.detach();
        }
        prefaulter.shutdownNow();
        reaper.shutdown();
        try {
            if (!reaper.awaitTermination(REAPER_CLOSE_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS)) {
                LOG.warn("event=reaper_unfinished root={} note=\"the next start removes what is left\"", root);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            throw new HypervisorException("close", null, "cannot release " + root + "/.lock: " + e.getMessage(), e);
        }
    }
}
