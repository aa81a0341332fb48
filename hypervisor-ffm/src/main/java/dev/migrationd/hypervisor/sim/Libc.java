package dev.migrationd.hypervisor.sim;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The few libc calls the sim needs, bound once through the FFM {@link Linker} (Linux x86-64 values).
 * Every failed call becomes a {@link NativeException} naming the call, its return code and
 * {@code strerror(errno)}; errno is captured with {@code Linker.Option.captureCallState}.
 *
 * <p>Thread-safety: stateless; the method handles are immutable and safe to share.
 */
final class Libc {

    static final int O_RDWR = 0x2;
    static final int O_CREAT = 0x40;
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
    static final int EINVAL = 22;
    static final int EOPNOTSUPP = 95;
    static final long MAP_FAILED = -1L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = bind("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            true, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = bind("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), true);
    private static final MethodHandle FTRUNCATE = bind("ftruncate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), true);
    private static final MethodHandle FSYNC = bind("fsync",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), true);
    private static final MethodHandle FALLOCATE = bind("fallocate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG), true);
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), true);
    private static final MethodHandle MUNMAP = bind("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), true);
    private static final MethodHandle MADVISE = bind("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), true);
    private static final MethodHandle MINCORE = bind("mincore",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS), true);
    private static final MethodHandle STATVFS = bind("statvfs",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS), true);
    private static final MethodHandle STRERROR = bind("strerror",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT), false);

    /**
     * glibc's {@code struct statvfs} on x86-64 (112 bytes): only the members read here are named; the
     * others are padding. Checked against the C compiler's {@code offsetof} by LibcTest.
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

    private static MethodHandle bind(String name, FunctionDescriptor fd, boolean captureErrno, Linker.Option... extra) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc symbol not found: " + name));
        Linker.Option[] options = extra;
        if (captureErrno) {
            options = java.util.Arrays.copyOf(extra, extra.length + 1);
            options[extra.length] = CAPTURE;
        }
        return LINKER.downcallHandle(symbol, fd, options);
    }

    /** A failed libc call: names the call, its return value and strerror(errno). */
    static final class NativeException extends Exception {
        private final int errno;

        NativeException(String call, long rc, int errno) {
            super(call + " returned " + rc + ": " + strerror(errno) + " (errno " + errno + ")");
            this.errno = errno;
        }

        int errno() {
            return errno;
        }
    }

    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static int open(String path, int flags, int mode) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(st, a.allocateFrom(path), flags, mode);
            if (fd < 0) {
                throw new NativeException("open(" + path + ")", fd, errno(st));
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("open downcall failed", t);
        }
    }

    static void close(int fd) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) CLOSE.invokeExact(st, fd);
            if (rc != 0) {
                throw new NativeException("close(" + fd + ")", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("close downcall failed", t);
        }
    }

    static void ftruncate(int fd, long length) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) FTRUNCATE.invokeExact(st, fd, length);
            if (rc != 0) {
                throw new NativeException("ftruncate(" + length + ")", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("ftruncate downcall failed", t);
        }
    }

    static void fsync(int fd) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) FSYNC.invokeExact(st, fd);
            if (rc != 0) {
                throw new NativeException("fsync", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fsync downcall failed", t);
        }
    }

    /** fallocate(fd, mode, offset, length): reserves (mode 0) the blocks of a range of a file. */
    static void fallocate(int fd, int mode, long offset, long length) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) FALLOCATE.invokeExact(st, fd, mode, offset, length);
            if (rc != 0) {
                throw new NativeException("fallocate(length=" + length + ")", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fallocate downcall failed", t);
        }
    }

    /** mmap; returns the raw address (a zero-length segment), never MAP_FAILED. */
    static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            MemorySegment p = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (p.address() == MAP_FAILED) {
                throw new NativeException("mmap(length=" + length + ")", -1, errno(st));
            }
            return p;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mmap downcall failed", t);
        }
    }

    static void munmap(MemorySegment address, long length) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) MUNMAP.invokeExact(st, address, length);
            if (rc != 0) {
                throw new NativeException("munmap", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("munmap downcall failed", t);
        }
    }

    static void madvise(MemorySegment address, long length, int advice) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) MADVISE.invokeExact(st, address, length, advice);
            if (rc != 0) {
                throw new NativeException("madvise(advice=" + advice + ")", rc, errno(st));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("madvise downcall failed", t);
        }
    }

    /**
     * Number of resident pages (4 KiB) in {@code [address, address+length)}; {@code address} must be
     * page aligned. Works in windows so that the vector stays small.
     */
    static long residentPages(MemorySegment address, long length) throws NativeException {
        final long window = 1L << 30; // 1 GiB → 256 KiB vector
        long resident = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            MemorySegment vec = a.allocate(window >>> 12);
            for (long off = 0; off < length; off += window) {
                long len = Math.min(window, length - off);
                int rc = (int) MINCORE.invokeExact(st, MemorySegment.ofAddress(address.address() + off), len, vec);
                if (rc != 0) {
                    throw new NativeException("mincore", rc, errno(st));
                }
                long pages = (len + 4095) >>> 12;
                for (long i = 0; i < pages; i++) {
                    resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
                }
            }
            return resident;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mincore downcall failed", t);
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
    static FileSystemSpace statvfs(String path) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            MemorySegment buf = a.allocate(STATVFS_LAYOUT);
            int rc = (int) STATVFS.invokeExact(st, a.allocateFrom(path), buf);
            if (rc != 0) {
                throw new NativeException("statvfs(" + path + ")", rc, errno(st));
            }
            return new FileSystemSpace((long) F_FRSIZE.get(buf, 0L), (long) F_BLOCKS.get(buf, 0L), (long) F_BAVAIL.get(buf, 0L));
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("statvfs downcall failed", t);
        }
    }
}
