package dev.migrationd.hypervisor.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A kernel pipe whose read end a native library reads by file descriptor (libxl reads a restore stream from
 * an fd), written from Java. Both ends are close-on-exec, so that no child process a native library forks
 * keeps the write end open: closing it here is what makes the reader see the end of the input.
 *
 * <p>Threads: one thread writes ({@link #write}, with its own native buffer); {@link #closeWrite} and
 * {@link #closeRead} may come from any thread and are idempotent.
 */
public final class NativePipe implements AutoCloseable {

    /** Linux's O_CLOEXEC for pipe2. */
    static final int O_CLOEXEC = 0x80000;
    /** EINTR, EAGAIN, EPIPE, EBADF (Linux). */
    static final int EINTR = 4;
    static final int EPIPE = 32;
    static final int EBADF = 9;
    /** The native buffer one write goes through. */
    public static final int CHUNK = 64 * 1024;

    private static final MethodHandle PIPE2 = libc("pipe2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle WRITE = libc("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle READ = libc("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private static MethodHandle libc(String name, FunctionDescriptor fd) {
        return NativeCalls.downcall(NativeCalls.LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    private final AtomicInteger readFd;
    private final AtomicInteger writeFd;
    /** Owned by the writing thread. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private long written;

    private NativePipe(int readFd, int writeFd) {
        this.readFd = new AtomicInteger(readFd);
        this.writeFd = new AtomicInteger(writeFd);
        this.buffer = arena.allocate(CHUNK);
    }

    /** A new pipe. */
    public static NativePipe open() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            int rc = (int) PIPE2.invokeExact(err, fds, O_CLOEXEC);
            if (rc != 0) {
                throw new IOException("pipe2(O_CLOEXEC) failed: " + NativeCalls.strerror(NativeCalls.errno(err)));
            }
            return new NativePipe(fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1));
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall pipe2 failed", t);
        }
    }

    /** The read end's descriptor (-1 once closed), for the native reader. */
    public int readFd() {
        return readFd.get();
    }

    /** Bytes written so far. */
    public long written() {
        return written;
    }

    /**
     * Writes all of {@code data}, blocking while the pipe is full.
     *
     * @throws IOException when the reader closed its end ("reader gone") or the write end is closed
     */
    public void write(ByteBuffer data) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            while (data.hasRemaining()) {
                int n = Math.min(CHUNK, data.remaining());
                MemorySegment.copy(MemorySegment.ofBuffer(data), 0, buffer, 0, n);
                long off = 0;
                while (off < n) {
                    int fd = writeFd.get();
                    if (fd < 0) {
                        throw new IOException("the pipe's write end is closed");
                    }
                    long w = (long) WRITE.invokeExact(err, fd, buffer.asSlice(off), (long) (n - off));
                    if (w < 0) {
                        int errno = NativeCalls.errno(err);
                        if (errno == EINTR) {
                            continue;
                        }
                        throw new IOException(errno == EPIPE ? "the reader closed the pipe after " + written + " bytes"
                                : "write to the pipe failed: " + NativeCalls.strerror(errno));
                    }
                    off += w;
                    written += w;
                }
                data.position(data.position() + n);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall write failed", t);
        }
    }

    /** Reads up to {@code max} bytes from the read end (blocking); an empty array at the end of the input. */
    public byte[] read(int max) throws IOException {
        int fd = readFd.get();
        if (fd < 0) {
            throw new IOException("the pipe's read end is closed");
        }
        return read(fd, max);
    }

    /**
     * Reads up to {@code max} bytes from {@code fd} (blocking); an empty array at the end of the input. For a
     * reader in Java of what a native reader would read (tests, fakes of it).
     */
    public static byte[] read(int fd, int max) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            MemorySegment buf = a.allocate(Math.max(1, max));
            while (true) {
                long r = (long) READ.invokeExact(err, fd, buf, (long) max);
                if (r >= 0) {
                    return buf.asSlice(0, r).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                }
                if (NativeCalls.errno(err) != EINTR) {
                    throw new IOException("read from fd " + fd + " failed: " + NativeCalls.strerror(NativeCalls.errno(err)));
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall read failed", t);
        }
    }

    /** Closes the write end: the reader sees the end of the input once it has read what is in the pipe. */
    public void closeWrite() {
        closeFd(writeFd);
    }

    /** Closes the read end: a writer then fails with "reader closed the pipe". */
    public void closeRead() {
        closeFd(readFd);
    }

    private static void closeFd(AtomicInteger fd) {
        int f = fd.getAndSet(-1);
        if (f < 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            int unused = (int) CLOSE.invokeExact(NativeCalls.errnoBuffer(a), f);
        } catch (Throwable t) {
            throw new IllegalStateException("downcall close failed", t);
        }
    }

    /** Closes both ends and frees the buffer (after the writer is done). */
    @Override
    public void close() {
        closeWrite();
        closeRead();
        arena.close();
    }
}
