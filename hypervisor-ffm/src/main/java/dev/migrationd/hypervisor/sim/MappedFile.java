package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file mapped {@code MAP_SHARED} read-write with {@code mmap} through FFM. The file is created sparse
 * (ftruncate), so pages cost memory only once touched; writes go to the page cache (for guest memory: a
 * shared-memory file system, see SimMemoryDir), which outlives this process, so the content survives a
 * restart of the daemon (even a kill) without any explicit save.
 *
 * <p>Thread-safety: the segment may be used from any thread until {@link #close()}; closing the shared
 * arena fails fast (IllegalStateException) for a thread that still uses it. The owner (a SimDomain)
 * stops its vCPU threads before closing.
 */
final class MappedFile implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MappedFile.class);
    private static volatile boolean hugePageWarned;

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;

    private MappedFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Opens (creating if needed) {@code path}, sizes it to exactly {@code length} bytes and maps it.
     *
     * @param hugePages ask for transparent huge pages ({@code MADV_HUGEPAGE}); a kernel or filesystem
     *                  that refuses is logged once, not an error
     */
    static MappedFile open(Path path, long length, boolean hugePages) throws NativeCallException {
        return open(path, length, hugePages, Libc.O_CREAT);
    }

    /**
     * As {@link #open(Path, long, boolean)}, with the creation flags given: {@code O_CREAT} (open or create),
     * {@code O_CREAT | O_EXCL} (a new file: fails if one exists) or 0 (an existing file: fails if missing).
     */
    static MappedFile open(Path path, long length, boolean hugePages, int createFlags) throws NativeCallException {
        if (length <= 0) {
            throw new IllegalArgumentException("mapping length must be positive: " + length);
        }
        int fd = Libc.open(path.toString(), Libc.O_RDWR | createFlags | Libc.O_CLOEXEC, 0600);
        MemorySegment raw;
        try {
            Libc.ftruncate(fd, length);
            raw = Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        } finally {
            Libc.close(fd); // the mapping keeps the file referenced
        }
        if (hugePages) {
            try {
                Libc.madvise(raw, length, Libc.MADV_HUGEPAGE);
            } catch (NativeCallException e) {
                if (!hugePageWarned) {
                    hugePageWarned = true;
                    LOG.info("event=madvise_hugepage_refused path={} reason=\"{}\"", path, e.problem());
                }
            }
        }
        Arena arena = Arena.ofShared();
        long address = raw.address();
        MemorySegment seg = raw.reinterpret(length, arena, s -> unmap(path, address, length));
        return new MappedFile(path, arena, seg);
    }

    private static void unmap(Path path, long address, long length) {
        try {
            Libc.munmap(MemorySegment.ofAddress(address), length);
        } catch (NativeCallException e) {
            LOG.warn("event=munmap_failed path={} reason=\"{}\"", path, e.problem());
        }
    }

    /**
     * Prefaults the whole mapping: every page allocated in the file and mapped writable in this process
     * ({@code MADV_POPULATE_WRITE}), so that later writes take no page fault. Contents are unchanged. On a
     * kernel without it (before 5.14: EINVAL) each page is touched instead (a read and a write back of its
     * first byte, racing no one: the caller owns the memory).
     */
    void prefault() throws NativeCallException {
        try {
            Libc.madvise(segment, segment.byteSize(), Libc.MADV_POPULATE_WRITE);
        } catch (NativeCallException e) {
            if (e.errno() != Libc.EINVAL) {
                throw e;
            }
            for (long off = 0; off < segment.byteSize(); off += 4096) {
                segment.set(java.lang.foreign.ValueLayout.JAVA_BYTE, off, segment.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off));
            }
        }
    }

    MemorySegment segment() {
        return segment;
    }

    Path path() {
        return path;
    }

    /** Pages of this mapping resident in memory (mincore). */
    long residentPages() throws NativeCallException {
        return Libc.residentPages(segment, segment.byteSize());
    }

    /** Releases the backing store of a page-aligned range (the file gets a hole; reads give zeros). */
    void punchHole(long offset, long length) {
        try {
            Libc.madvise(segment.asSlice(offset, length), length, Libc.MADV_REMOVE);
        } catch (NativeCallException e) {
            segment.asSlice(offset, length).fill((byte) 0);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
