package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every downcall handle binds against the real Xen 4.17 libraries (Debian libxen-dev must be installed;
 * this fails loudly otherwise), and errno/strerror reach the exception through a real failing call.
 */
class XenBindingsTest {

    private static final boolean DOM0 = Files.exists(Path.of("/dev/xen/privcmd"));

    @Test
    void everyLibxenctrlFunctionBinds() throws Exception {
        Map<String, MethodHandle> h = LibXenCtrl.handles();
        assertEquals(LibXenCtrl.SIGNATURES.keySet(), h.keySet());
        assertEquals(34, h.size());
        // the errno capture segment comes first: xc_domain_pause(capture, xch, domid) -> int
        assertEquals("(MemorySegment,MemorySegment,int)int", h.get("xc_domain_pause").type().toString());
        assertEquals("(MemorySegment,MemorySegment,int,int,MemorySegment,long,int,MemorySegment)long",
                h.get("xc_logdirty_control").type().toString());
    }

    /** The PV downcalls, with the C prototypes of Xen 4.17's xenctrl.h (errno capture segment first). */
    @Test
    void thePvDowncallsBindWithTheirCPrototypes() throws Exception {
        Map<String, MethodHandle> h = LibXenCtrl.handles();
        // int xc_domctl(xc_interface *, struct xen_domctl *)
        assertEquals("(MemorySegment,MemorySegment,MemorySegment)int", h.get("xc_domctl").type().toString());
        // int xc_maximum_ram_page(xc_interface *, unsigned long *)
        assertEquals("(MemorySegment,MemorySegment,MemorySegment)int", h.get("xc_maximum_ram_page").type().toString());
        // int xc_machphys_mfn_list(xc_interface *, unsigned long, xen_pfn_t *)
        assertEquals("(MemorySegment,MemorySegment,long,MemorySegment)int", h.get("xc_machphys_mfn_list").type().toString());
        // long xc_memory_op(xc_interface *, unsigned int, void *, size_t)
        assertEquals("(MemorySegment,MemorySegment,int,MemorySegment,long)long", h.get("xc_memory_op").type().toString());
        // int xc_mmuext_op(xc_interface *, struct mmuext_op *, unsigned int nr_ops, uint32_t dom)
        assertEquals("(MemorySegment,MemorySegment,MemorySegment,int,int)int", h.get("xc_mmuext_op").type().toString());
    }

    /** The prototypes above, as the installed header declares them (so a changed header fails here, not on a dom0). */
    @Test
    void thePvPrototypesAreTheInstalledHeaders() throws Exception {
        String header = Files.readString(Path.of("/usr/include/xenctrl.h")).replaceAll("\\s+", " ");
        for (String proto : new String[] {
            "int xc_domctl(xc_interface *xch, struct xen_domctl *domctl);",
            "int xc_maximum_ram_page(xc_interface *xch, unsigned long *max_mfn);",
            "int xc_machphys_mfn_list(xc_interface *xch, unsigned long max_extents, xen_pfn_t *extent_start);",
            "long xc_memory_op(xc_interface *xch, unsigned int cmd, void *arg, size_t len);",
            "int xc_mmuext_op(xc_interface *xch, struct mmuext_op *op, unsigned int nr_ops, uint32_t dom);",
        }) {
            assertTrue(header.contains(proto), "xenctrl.h no longer declares: " + proto);
        }
    }

    @Test
    void everyForeignMemoryAndXenstoreFunctionBinds() throws Exception {
        assertEquals(LibXenForeignMemory.SIGNATURES.keySet(), LibXenForeignMemory.handles().keySet());
        assertEquals(LibXenStore.SIGNATURES.keySet(), LibXenStore.handles().keySet());
    }

    @Test
    void offDom0OpeningLibxcFailsWithTheRealErrnoAndStrerror() throws Exception {
        if (DOM0) {
            try (LibXenCtrl xc = LibXenCtrl.open()) {
                assertTrue(xc != null);
            }
            return;
        }
        NativeCallException e = assertThrows(NativeCallException.class, LibXenCtrl::open);
        assertEquals("xc_interface_open", e.call());
        assertNotEquals(0, e.errno(), "errno must be captured from the failed call");
        assertEquals("xc_interface_open: xc_interface_open(logger=NULL, dombuild_logger=NULL, open_flags=0) returned 0: errno "
                + e.errno() + " (" + NativeCalls.strerror(e.errno()) + ")", e.getMessage());

        NativeCallException f = assertThrows(NativeCallException.class, LibXenForeignMemory::open);
        assertEquals("xenforeignmemory_open", f.call());
        assertNotEquals(0, f.errno());
    }

    @Test
    void failureReadsErrnoFromTheCaptureBufferAndAddsStrerror() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment capture = NativeCalls.errnoBuffer(a);
            var errno = java.lang.foreign.Linker.Option.captureStateLayout()
                    .varHandle(MemoryLayout.PathElement.groupElement("errno"));
            errno.set(capture, 0L, 16);
            NativeCallException e = XenNative.failure("xc_domain_destroy", 12, "domid=12", -1, capture);
            assertEquals("xc_domain_destroy domain=12: xc_domain_destroy(domid=12) returned -1: errno 16 (Device or resource busy)",
                    e.getMessage());
            assertEquals(16, e.errno());
            assertEquals(-1, e.returnCode());
        }
        assertEquals("No such file or directory", NativeCalls.strerror(2));
        assertTrue(ValueLayout.ADDRESS.byteSize() == 8, "x86_64 only");
    }

    @Test
    void aMissingLibraryOrSymbolIsOneActionableLine() throws Exception {
        var lib = assertThrows(dev.migrationd.hypervisor.HypervisorException.class,
                () -> XenNative.library("libxenctrl.so.0.0-missing", "libxenmisc4.17"));
        assertEquals("backend xen: shared library libxenctrl.so.0.0-missing not found (Xen 4.17 tools); install the Debian"
                + " package libxenmisc4.17 (or libxen-dev) on the dom0", lib.getMessage());

        var real = XenNative.library(LibXenCtrl.SONAME, "libxenmisc4.17");
        var sym = assertThrows(dev.migrationd.hypervisor.HypervisorException.class, () -> XenNative.bind(real, LibXenCtrl.SONAME,
                "xc_no_such_function", java.lang.foreign.FunctionDescriptor.ofVoid()));
        assertEquals("backend xen: symbol xc_no_such_function missing from libxenctrl.so.4.17 (expected the Xen 4.17 ABI)",
                sym.getMessage());
    }
}
