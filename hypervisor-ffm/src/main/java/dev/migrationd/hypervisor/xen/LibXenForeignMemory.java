package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link ForeignMemory} over FFM downcalls to {@code libxenforeignmemory.so.1} (Xen 4.17 prototypes from
 * {@code xenforeignmemory.h}). Handles bound once, lazily; one instance owns one handle; safe for
 * concurrent use.
 */
final class LibXenForeignMemory implements ForeignMemory {

    static final String SONAME = "libxenforeignmemory.so.1";
    private static final String PACKAGE = "libxenforeignmemory1";
    private static final long PAGE = 4096;

    static final Map<String, FunctionDescriptor> SIGNATURES = new LinkedHashMap<>();

    static {
        // xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *, unsigned open_flags)
        SIGNATURES.put("xenforeignmemory_open", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        SIGNATURES.put("xenforeignmemory_close", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // void *xenforeignmemory_map(xenforeignmemory_handle *, uint32_t dom, int prot, size_t pages,
        //                            const xen_pfn_t arr[], int err[])
        SIGNATURES.put("xenforeignmemory_map",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
        // int xenforeignmemory_unmap(xenforeignmemory_handle *, void *addr, size_t pages)
        SIGNATURES.put("xenforeignmemory_unmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    }

    private static final XenNative.Bindings BINDINGS = new XenNative.Bindings(SONAME, PACKAGE, SIGNATURES);

    /** All handles, binding them on first use; one clear message when the library is unusable. */
    static Map<String, MethodHandle> handles() throws HypervisorException {
        return BINDINGS.handles();
    }

    private final MethodHandle mapFn;
    private final MethodHandle unmapFn;
    private final MethodHandle closeFn;
    private final MemorySegment fmem;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LibXenForeignMemory(Map<String, MethodHandle> h, MemorySegment fmem) {
        this.mapFn = h.get("xenforeignmemory_map");
        this.unmapFn = h.get("xenforeignmemory_unmap");
        this.closeFn = h.get("xenforeignmemory_close");
        this.fmem = fmem;
    }

    /** {@code xenforeignmemory_open(NULL, 0)}. */
    static LibXenForeignMemory open() throws HypervisorException {
        Map<String, MethodHandle> h = handles();
        MethodHandle open = h.get("xenforeignmemory_open");
        return new LibXenForeignMemory(h, NativeCalls.callForPointer("xenforeignmemory_open", null,
                "logger=NULL, open_flags=0", (err, a) -> (MemorySegment) open.invokeExact(err, MemorySegment.NULL, 0)));
    }

    @Override
    public MemorySegment map(int domid, int prot, long pages, MemorySegment pfns, MemorySegment errs) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            MemorySegment addr = (MemorySegment) mapFn.invokeExact(err, fmem, domid, prot, pages, pfns, errs);
            if (addr.equals(MemorySegment.NULL)) {
                throw XenNative.failure("xenforeignmemory_map", domid, "dom=" + domid + ", prot=" + prot + ", pages=" + pages
                        + ", first_pfn=0x" + Long.toHexString(pfns.get(JAVA_LONG, 0)), 0, err);
            }
            return addr.reinterpret(pages * PAGE);
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xenforeignmemory_map failed", t);
        }
    }

    @Override
    public void unmap(MemorySegment region, long pages) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            int rc = (int) unmapFn.invokeExact(err, fmem, region, pages);
            if (rc < 0) {
                throw XenNative.failure("xenforeignmemory_unmap", null, "addr=0x" + Long.toHexString(region.address())
                        + ", pages=" + pages, rc, err);
            }
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xenforeignmemory_unmap failed", t);
        }
    }

    @Override
    public void close() throws HypervisorException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        NativeCalls.call("xenforeignmemory_close", null, "fmem", (err, a) -> (int) closeFn.invokeExact(err, fmem));
    }
}
