package dev.migrationd.hypervisor.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * What every FFM binding of the backends shares for errors: downcall handles that capture {@code errno} right
 * after the call (before the JVM can clobber it), reading it, {@code strerror} from libc, and one exception for a
 * failed call, {@link NativeCallException}. Stateless apart from constants bound once at class initialisation;
 * safe for concurrent use.
 */
public final class NativeCalls {

    /** The platform's linker. */
    public static final Linker LINKER = Linker.nativeLinker();

    /** Passed to every downcall that can fail, so that {@code errno} is captured in the call's state buffer. */
    public static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /** Longest strerror text we read (glibc's longest is well under this). */
    private static final long MAX_STRERROR = 256;

    private NativeCalls() {
    }

    /**
     * A downcall handle for {@code symbol} that captures errno: its first parameter is the buffer from
     * {@link #errnoBuffer}, followed by {@code fd}'s parameters.
     */
    public static MethodHandle downcall(MemorySegment symbol, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = Arrays.copyOf(extra, extra.length + 1);
        options[extra.length] = CAPTURE_ERRNO;
        return LINKER.downcallHandle(symbol, fd, options);
    }

    /** A fresh errno capture buffer in {@code arena}; pass it as the first argument of a capturing downcall. */
    public static MemorySegment errnoBuffer(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno a capturing downcall left in {@code capture}. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** {@code strerror(errno)} from libc. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            if (s.equals(MemorySegment.NULL)) {
                return "unknown error " + errno;
            }
            return s.reinterpret(MAX_STRERROR).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException("strerror failed", t);
        }
    }

    /** The exception for a failed call, with errno read from {@code capture}. */
    public static NativeCallException failure(String call, String domain, String args, long rc, MemorySegment capture) {
        int errno = errno(capture);
        return new NativeCallException(call, domain, args, rc, errno, strerror(errno));
    }

    /** A downcall returning a status or a value; it gets the errno buffer and a call-scoped arena. */
    @FunctionalInterface
    public interface Call {
        long invoke(MemorySegment errno, Arena arena) throws Throwable;
    }

    /**
     * Runs {@code c} with a fresh errno buffer in a call-scoped arena; a negative result is a failure.
     *
     * @param domain the domain id as text, or null for host-wide calls
     * @param args   the arguments as the message shows them
     * @return what {@code c} returned (never negative)
     * @throws NativeCallException the call returned a negative value
     */
    public static long call(String name, String domain, String args, Call c) throws NativeCallException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = errnoBuffer(a);
            long rc = c.invoke(err, a);
            if (rc < 0) {
                throw failure(name, domain, args, rc, err);
            }
            return rc;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall " + name + " failed", t);
        }
    }

    /** A downcall returning a pointer; it gets the errno buffer and a call-scoped arena. */
    @FunctionalInterface
    public interface PointerCall {
        MemorySegment invoke(MemorySegment errno, Arena arena) throws Throwable;
    }

    /**
     * Runs {@code c} with a fresh errno buffer in a call-scoped arena; a NULL result is a failure (its return code
     * shows as 0).
     *
     * @return the pointer {@code c} returned (never NULL); it must not point into the call-scoped arena
     * @throws NativeCallException the call returned NULL
     */
    public static MemorySegment callForPointer(String name, String domain, String args, PointerCall c)
            throws NativeCallException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = errnoBuffer(a);
            MemorySegment p = c.invoke(err, a);
            if (p.equals(MemorySegment.NULL)) {
                throw failure(name, domain, args, 0, err);
            }
            return p;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall " + name + " failed", t);
        }
    }
}
