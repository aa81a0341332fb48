package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;
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
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What every Xen binding shares: the linker, library loading with one actionable message when a library
 * is missing, {@code errno} capture and {@code strerror} from libc. Stateless apart from constants bound
 * once at class initialisation; safe for concurrent use.
 */
final class XenNative {

    static final Linker LINKER = Linker.nativeLinker();

    /** The operation name of backend-level failures, so that the message reads "backend xen: ...". */
    static final String BACKEND = "backend xen";

    /** Passed to every downcall so that {@code errno} is read right after the call, before the JVM can clobber it. */
    static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /** Longest strerror text we read (glibc's longest is well under this). */
    private static final long MAX_STRERROR = 256;

    private XenNative() {
    }

    /** A fresh errno capture buffer in {@code arena}; pass it as the first argument of a capturing downcall. */
    static MemorySegment errnoBuffer(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** {@code strerror(errno)} from libc. */
    static String strerror(int errno) {
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
    static XenCallException failure(String call, Integer domid, String args, long rc, MemorySegment capture) {
        int errno = errno(capture);
        return new XenCallException(call, domid == null ? null : Integer.toString(domid), args, rc, errno, strerror(errno));
    }

    /**
     * Looks up a shared library by its soname (e.g. {@code libxenctrl.so.4.17}) in the global arena, or
     * explains in one line what is missing and how to get it.
     */
    static SymbolLookup library(String soname, String debianPackage) throws HypervisorException {
        try {
            return SymbolLookup.libraryLookup(soname, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new HypervisorException(BACKEND, null,
                    "shared library " + soname + " not found (Xen 4.17 tools); install the Debian package "
                            + debianPackage + " (or libxen-dev) on the dom0");
        } catch (IllegalCallerException e) {
            throw new HypervisorException(BACKEND, null,
                    "native access to " + soname + " is disabled; run the JVM with --enable-native-access=ALL-UNNAMED");
        }
    }

    /** A downcall handle for {@code name} in {@code lib} that captures errno, or one line naming the missing symbol. */
    static MethodHandle bind(SymbolLookup lib, String soname, String name, FunctionDescriptor fd) throws HypervisorException {
        Optional<MemorySegment> sym = lib.find(name);
        if (sym.isEmpty()) {
            throw new HypervisorException(BACKEND, null,
                    "symbol " + name + " missing from " + soname + " (expected the Xen 4.17 ABI)");
        }
        return LINKER.downcallHandle(sym.get(), fd, CAPTURE_ERRNO);
    }

    /**
     * One shared library's downcall handles, bound once on first use (all of them, so a missing symbol is
     * found at once), or the one-line reason they could not be, given again on every later use.
     * Thread-safety: the first caller binds under the lock; the result is immutable and published by it.
     */
    static final class Bindings {
        private final String soname;
        private final String debianPackage;
        private final Map<String, FunctionDescriptor> signatures;
        private Object bound; // guarded by this: null until bound, then Map<String, MethodHandle> or HypervisorException

        Bindings(String soname, String debianPackage, Map<String, FunctionDescriptor> signatures) {
            this.soname = soname;
            this.debianPackage = debianPackage;
            this.signatures = signatures;
        }

        /** All handles, binding them on first use; one clear message when the library is unusable. */
        @SuppressWarnings("unchecked")
        synchronized Map<String, MethodHandle> handles() throws HypervisorException {
            if (bound == null) {
                bound = bindAll();
            }
            if (bound instanceof HypervisorException e) {
                // a fresh exception each time (the cached one's stack is the first caller's), same message
                throw new HypervisorException(e.operation(), null, e.getMessage().substring(e.operation().length() + 2));
            }
            return (Map<String, MethodHandle>) bound;
        }

        private Object bindAll() {
            try {
                SymbolLookup lib = library(soname, debianPackage);
                Map<String, MethodHandle> handles = new HashMap<>();
                for (var e : signatures.entrySet()) {
                    handles.put(e.getKey(), bind(lib, soname, e.getKey(), e.getValue()));
                }
                return Map.copyOf(handles);
            } catch (HypervisorException e) {
                return e;
            }
        }
    }
}
