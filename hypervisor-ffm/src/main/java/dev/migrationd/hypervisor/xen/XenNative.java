package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What every Xen binding shares: library loading with one actionable message when a library or symbol is
 * missing, and handles that capture {@code errno} ({@link NativeCalls}, shared with the sim's libc binding).
 * Stateless apart from constants bound once at class initialisation; safe for concurrent use.
 */
final class XenNative {

    /** The operation name of backend-level failures, so that the message reads "backend xen: ...". */
    static final String BACKEND = "backend xen";

    private XenNative() {
    }

    /** The exception for a failed call on domain {@code domid} (null: host-wide), errno read from {@code capture}. */
    static NativeCallException failure(String call, Integer domid, String args, long rc, MemorySegment capture) {
        return NativeCalls.failure(call, domid == null ? null : Integer.toString(domid), args, rc, capture);
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
        return NativeCalls.downcall(sym.get(), fd);
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
