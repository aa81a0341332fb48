package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls the sim needs, bound once through the FFM {@link Linker} (Linux x86-64 values).
 * Every failed call becomes a {@link NativeCallException} naming the call, its return code and
 * {@code strerror(errno)}; errno is captured by {@link NativeCalls}, as for the Xen libraries.
 *
 * <p>Thread-safety: stateless; the method handles are immutable and safe to share.
 */
final class Libc {

    static final int O_RDWR = 0x2;
    static final int O_CREAT = 0x40;
    static final int O_EXCL = 0x80;
    static final int O_CLOEXEC = 0x80000;
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int MADV_REMOVE = 9;
    static final int MADV_HUGEPAGE = 14;
    /** Populate (prefault) page tables writable, allocating what is missing (Linux 5.14). */
    static final int MADV_POPULATE_WRITE = 23;
    static final int ENOENT = 2;
    static final int EEXIST = 17;
    static final int EINVAL = 22;

    private static final Linker LINKER = NativeCalls.LINKER;

    private static final MethodHandle OPEN = bind("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = bind("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = bind("ftruncate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle FSYNC = bind("fsync",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle MADVISE = bind("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle MINCORE = bind("mincore",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle STATVFS = bind("statvfs",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    /**
     * glibc's {@code struct statvfs} on x86-64 (112 bytes): only the members read here are named; the
     * others are padding. Checked against the C compiler's {@code offsetof} by LibcStatvfsTest.
     */
    static final StructLayout STATVFS_LAYOUT = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("f_bsize"),
            ValueLayout.JAVA_LONG.withName("f_frsize"),
            ValueLayout.JAVA_LONG.withName("f_blocks"),
            ValueLayout.JAVA_LONG.withName("f_bfree"),
            ValueLayout.JAVA_LONG.withName("f_bavail"),
            MemoryLayout.paddingLayout(112 - 40));
    private static final VarHandle F_FRSIZE = STATVFS_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("f_frsize"));
    private static final VarHandle F_BLOCKS = STATVFS_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("f_blocks"));
    private static final VarHandle F_BAVAIL = STATVFS_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("f_bavail"));

    private Libc() {
    }

    /** A handle for libc's {@code name} that captures errno (its first parameter is the capture buffer). */
    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... extra) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc symbol not found: " + name));
        return NativeCalls.downcall(symbol, fd, extra);
    }

    static int open(String path, int flags, int mode) throws NativeCallException {
        return (int) NativeCalls.call("open", null, path,
                (st, a) -> (int) OPEN.invokeExact(st, a.allocateFrom(path), flags, mode));
    }

    static void close(int fd) throws NativeCallException {
        NativeCalls.call("close", null, Integer.toString(fd), (st, a) -> (int) CLOSE.invokeExact(st, fd));
    }

    static void ftruncate(int fd, long length) throws NativeCallException {
        NativeCalls.call("ftruncate", null, Long.toString(length), (st, a) -> (int) FTRUNCATE.invokeExact(st, fd, length));
    }

    static void fsync(int fd) throws NativeCallException {
        NativeCalls.call("fsync", null, "", (st, a) -> (int) FSYNC.invokeExact(st, fd));
    }

    /** mmap; returns the raw address (a zero-length segment), never MAP_FAILED ((void *) -1). */
    static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws NativeCallException {
        // MAP_FAILED is negative as a long, where no user-space address is: a failure for NativeCalls.call
        long address = NativeCalls.call("mmap", null, "length=" + length,
                (st, a) -> ((MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, length, prot, flags, fd, offset))
                        .address());
        return MemorySegment.ofAddress(address);
    }

    static void munmap(MemorySegment address, long length) throws NativeCallException {
        NativeCalls.call("munmap", null, "", (st, a) -> (int) MUNMAP.invokeExact(st, address, length));
    }

    static void madvise(MemorySegment address, long length, int advice) throws NativeCallException {
        NativeCalls.call("madvise", null, "advice=" + advice,
                (st, a) -> (int) MADVISE.invokeExact(st, address, length, advice));
    }

    /**
     * Number of resident pages (4 KiB) in {@code [address, address+length)}; {@code address} must be
     * page aligned. Works in windows so that the vector stays small.
     */
    static long residentPages(MemorySegment address, long length) throws NativeCallException {
        final long window = 1L << 30; // 1 GiB → 256 KiB vector
        long resident = 0;
        try (Arena vectorArena = Arena.ofConfined()) {
            MemorySegment vec = vectorArena.allocate(window >>> 12);
            for (long off = 0; off < length; off += window) {
                long len = Math.min(window, length - off);
                MemorySegment start = MemorySegment.ofAddress(address.address() + off);
                NativeCalls.call("mincore", null, "", (st, a) -> (int) MINCORE.invokeExact(st, start, len, vec));
                long pages = (len + 4095) >>> 12;
                for (long i = 0; i < pages; i++) {
                    resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
                }
            }
            return resident;
        }
    }

    /**
     * What {@code statvfs(2)} says of the file system holding {@code path}.
     *
     * @param fragmentSize  the unit of the block counts ({@code f_frsize})
     * @param blocks        the file system's size in those units
     * @param availableBlocks the units free for an unprivileged user ({@code f_bavail})
     */
    record FileSystemSpace(long fragmentSize, long blocks, long availableBlocks) {
        /** Bytes an unprivileged user can still write (saturates instead of overflowing). */
        long usableBytes() {
            return availableBlocks > Long.MAX_VALUE / Math.max(1, fragmentSize) ? Long.MAX_VALUE : availableBlocks * fragmentSize;
        }
    }

    /**
     * {@code statvfs(path)}: asks the kernel about the directory itself. Unlike the JDK's file-store lookup
     * (which matches the path against the mount table), it works wherever the path can be reached: in a
     * chroot whose root is not a mount point, in a container, below a bind mount.
     */
    static FileSystemSpace statvfs(String path) throws NativeCallException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STATVFS_LAYOUT);
            NativeCalls.call("statvfs", null, path, (st, call) -> (int) STATVFS.invokeExact(st, call.allocateFrom(path), buf));
            return new FileSystemSpace((long) F_FRSIZE.get(buf, 0L), (long) F_BLOCKS.get(buf, 0L), (long) F_BAVAIL.get(buf, 0L));
        }
    }
}
