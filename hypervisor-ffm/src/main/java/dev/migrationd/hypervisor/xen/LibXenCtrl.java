package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link XenCtrl} over FFM downcalls to {@code libxenctrl.so.4.17}. Prototypes are those of Debian's
 * Xen 4.17 {@code xenctrl.h} ({@code xc_get_pfn_type_batch}: {@code xc_private.h}, exported by the library).
 * Handles are bound once, lazily, on first use; a missing library or symbol becomes one actionable message.
 * One instance owns one {@code xc_interface *}; safe for concurrent use (libxc serialises internally).
 */
final class LibXenCtrl implements XenCtrl {

    static final String SONAME = "libxenctrl.so.4.17";
    private static final String PACKAGE = "libxenmisc4.17";

    /** Every function bound, with its C prototype as a descriptor (errno capture is added by the binder). */
    static final Map<String, FunctionDescriptor> SIGNATURES = new LinkedHashMap<>();

    static {
        // xc_interface *xc_interface_open(xentoollog_logger *, xentoollog_logger *, unsigned open_flags)
        SIGNATURES.put("xc_interface_open", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        SIGNATURES.put("xc_interface_close", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // int xc_domain_getinfolist(xc_interface *, uint32_t first_domain, unsigned int max_domains, xc_domaininfo_t *)
        SIGNATURES.put("xc_domain_getinfolist", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        SIGNATURES.put("xc_domain_pause", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        SIGNATURES.put("xc_domain_unpause", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        SIGNATURES.put("xc_domain_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        // int xc_domain_get_guest_width(xc_interface *, uint32_t, unsigned int *guest_width)
        SIGNATURES.put("xc_domain_get_guest_width", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        // int xc_domain_maximum_gpfn(xc_interface *, uint32_t, xen_pfn_t *gpfns)
        SIGNATURES.put("xc_domain_maximum_gpfn", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        // int xc_shadow_control(xc_interface *, uint32_t, unsigned int sop, unsigned int *mb, unsigned int mode)
        SIGNATURES.put("xc_shadow_control", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
        // void *xc__hypercall_buffer_alloc_pages(xc_interface *, xc_hypercall_buffer_t *, int nr_pages)
        SIGNATURES.put("xc__hypercall_buffer_alloc_pages", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
        // void xc__hypercall_buffer_free_pages(xc_interface *, xc_hypercall_buffer_t *, int nr_pages)
        SIGNATURES.put("xc__hypercall_buffer_free_pages", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT));
        // long long xc_logdirty_control(xc_interface *, uint32_t, unsigned int sop, xc_hypercall_buffer_t *,
        //                               unsigned long pages, unsigned int mode, xc_shadow_op_stats_t *)
        SIGNATURES.put("xc_logdirty_control",
                FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
        // int xc_vcpu_getcontext(xc_interface *, uint32_t, uint32_t vcpu, vcpu_guest_context_any_t *)
        SIGNATURES.put("xc_vcpu_getcontext", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        SIGNATURES.put("xc_vcpu_setcontext", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        // int xc_vcpu_getinfo(xc_interface *, uint32_t, uint32_t vcpu, xc_vcpuinfo_t *)
        SIGNATURES.put("xc_vcpu_getinfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        // int xc_domain_hvm_getcontext(xc_interface *, uint32_t, uint8_t *ctxt_buf, uint32_t size)
        SIGNATURES.put("xc_domain_hvm_getcontext", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
        SIGNATURES.put("xc_domain_hvm_setcontext", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
        // int xc_hvm_param_get(xc_interface *, uint32_t dom, uint32_t param, uint64_t *value)
        SIGNATURES.put("xc_hvm_param_get", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        SIGNATURES.put("xc_hvm_param_set", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG));
        // int xc_domain_get_tsc_info(xc_interface *, uint32_t, uint32_t *mode, uint64_t *nsec, uint32_t *khz, uint32_t *inc)
        SIGNATURES.put("xc_domain_get_tsc_info",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        // int xc_domain_set_tsc_info(xc_interface *, uint32_t, uint32_t mode, uint64_t nsec, uint32_t khz, uint32_t inc)
        SIGNATURES.put("xc_domain_set_tsc_info",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT));
        // int xc_domain_create(xc_interface *, uint32_t *pdomid, struct xen_domctl_createdomain *)
        SIGNATURES.put("xc_domain_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        // int xc_domain_max_vcpus(xc_interface *, uint32_t, unsigned int max)
        SIGNATURES.put("xc_domain_max_vcpus", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        // int xc_domain_setmaxmem(xc_interface *, uint32_t, uint64_t max_memkb)
        SIGNATURES.put("xc_domain_setmaxmem", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
        // int xc_set_paging_mempool_size(xc_interface *, uint32_t, uint64_t size)
        SIGNATURES.put("xc_set_paging_mempool_size", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
        // int xc_domain_populate_physmap_exact(xc_interface *, uint32_t, unsigned long nr_extents,
        //                                      unsigned int extent_order, unsigned int mem_flags, xen_pfn_t *)
        SIGNATURES.put("xc_domain_populate_physmap_exact",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS));
        // int xc_domain_decrease_reservation_exact(xc_interface *, uint32_t, unsigned long, unsigned int, xen_pfn_t *)
        SIGNATURES.put("xc_domain_decrease_reservation_exact",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS));
        // int xc_set_broken_page_p2m(xc_interface *, uint32_t, unsigned long pfn)
        SIGNATURES.put("xc_set_broken_page_p2m", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
        // int xc_get_pfn_type_batch(xc_interface *, uint32_t dom, unsigned int num, xen_pfn_t *arr)
        SIGNATURES.put("xc_get_pfn_type_batch", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        // int xc_domctl(xc_interface *, struct xen_domctl *)
        SIGNATURES.put("xc_domctl", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // int xc_maximum_ram_page(xc_interface *, unsigned long *max_mfn)
        SIGNATURES.put("xc_maximum_ram_page", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // int xc_machphys_mfn_list(xc_interface *, unsigned long max_extents, xen_pfn_t *extent_start)
        SIGNATURES.put("xc_machphys_mfn_list", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
        // long xc_memory_op(xc_interface *, unsigned int cmd, void *arg, size_t len)
        SIGNATURES.put("xc_memory_op", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
        // int xc_mmuext_op(xc_interface *, struct mmuext_op *op, unsigned int nr_ops, uint32_t dom)
        SIGNATURES.put("xc_mmuext_op", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
    }

    private static final XenNative.Bindings BINDINGS = new XenNative.Bindings(SONAME, PACKAGE, SIGNATURES);

    /** All handles, binding them on first use; one clear message when the library is unusable. */
    static Map<String, MethodHandle> handles() throws HypervisorException {
        return BINDINGS.handles();
    }

    private final Map<String, MethodHandle> h;
    private final MemorySegment xch;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LibXenCtrl(Map<String, MethodHandle> h, MemorySegment xch) {
        this.h = h;
        this.xch = xch;
    }

    /** {@code xc_interface_open(NULL, NULL, 0)}: fails (errno ENOENT/EACCES) off a Xen dom0 or without root. */
    static LibXenCtrl open() throws HypervisorException {
        Map<String, MethodHandle> h = handles();
        MethodHandle open = h.get("xc_interface_open");
        return new LibXenCtrl(h, NativeCalls.callForPointer("xc_interface_open", null,
                "logger=NULL, dombuild_logger=NULL, open_flags=0",
                (err, a) -> (MemorySegment) open.invokeExact(err, MemorySegment.NULL, MemorySegment.NULL, 0)));
    }

    /** Reads results out of the call-scoped arena before it closes. */
    @FunctionalInterface
    private interface CallWithResult<T> {
        T invoke(MemorySegment errno, Arena arena, long[] rc) throws Throwable;
    }

    private static long call(String name, Integer domid, String args, NativeCalls.Call c) throws NativeCallException {
        return NativeCalls.call(name, domid == null ? null : Integer.toString(domid), args, c);
    }

    private <T> T callFor(String name, Integer domid, String args, CallWithResult<T> c) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            long[] rc = new long[1];
            T result = c.invoke(err, a, rc);
            if (rc[0] < 0) {
                throw XenNative.failure(name, domid, args, rc[0], err);
            }
            return result;
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall " + name + " failed", t);
        }
    }

    private MethodHandle fn(String name) {
        return h.get(name);
    }

    @Override
    public int domainGetInfoList(int firstDomid, int max, MemorySegment infos) throws HypervisorException {
        return (int) call("xc_domain_getinfolist", null, "first_domain=" + firstDomid + ", max_domains=" + max,
                (e, a) -> (int) fn("xc_domain_getinfolist").invokeExact(e, xch, firstDomid, max, infos));
    }

    @Override
    public void domainPause(int domid) throws HypervisorException {
        call("xc_domain_pause", domid, "domid=" + domid, (e, a) -> (int) fn("xc_domain_pause").invokeExact(e, xch, domid));
    }

    @Override
    public void domainUnpause(int domid) throws HypervisorException {
        call("xc_domain_unpause", domid, "domid=" + domid, (e, a) -> (int) fn("xc_domain_unpause").invokeExact(e, xch, domid));
    }

    @Override
    public void domainDestroy(int domid) throws HypervisorException {
        call("xc_domain_destroy", domid, "domid=" + domid, (e, a) -> (int) fn("xc_domain_destroy").invokeExact(e, xch, domid));
    }

    @Override
    public int domainGetGuestWidth(int domid) throws HypervisorException {
        return callFor("xc_domain_get_guest_width", domid, "domid=" + domid, (e, a, rc) -> {
            MemorySegment out = a.allocate(JAVA_INT);
            rc[0] = (int) fn("xc_domain_get_guest_width").invokeExact(e, xch, domid, out);
            return out.get(JAVA_INT, 0);
        });
    }

    @Override
    public long domainMaximumGpfn(int domid) throws HypervisorException {
        return callFor("xc_domain_maximum_gpfn", domid, "domid=" + domid, (e, a, rc) -> {
            MemorySegment out = a.allocate(JAVA_LONG);
            rc[0] = (int) fn("xc_domain_maximum_gpfn").invokeExact(e, xch, domid, out);
            return out.get(JAVA_LONG, 0);
        });
    }

    @Override
    public void shadowControl(int domid, int sop, int mode) throws HypervisorException {
        call("xc_shadow_control", domid, "domid=" + domid + ", sop=" + sop + ", mb=NULL, mode=" + mode,
                (e, a) -> (int) fn("xc_shadow_control").invokeExact(e, xch, domid, sop, MemorySegment.NULL, mode));
    }

    @Override
    public HypercallBuffer hypercallBufferAllocPages(int pages) throws HypervisorException {
        // DECLARE_HYPERCALL_BUFFER: hbuf NULL, param_shadow NULL, dir 0, ubuf (void *)-1, sz 0. The descriptor
        // must outlive this call (libxc keys the buffer by it), so it lives in an automatic arena kept by the record.
        MemorySegment desc = Arena.ofAuto().allocate(XenLayouts.XC_HYPERCALL_BUFFER);
        desc.set(JAVA_LONG, XenLayouts.offset(XenLayouts.XC_HYPERCALL_BUFFER, "ubuf"), -1L);
        MemorySegment data = callFor("xc__hypercall_buffer_alloc_pages", null, "nr_pages=" + pages, (e, a, rc) -> {
            MemorySegment p = (MemorySegment) fn("xc__hypercall_buffer_alloc_pages").invokeExact(e, xch, desc, pages);
            rc[0] = p.equals(MemorySegment.NULL) ? -1 : 0;
            return p;
        });
        return new HypercallBuffer(desc, data.reinterpret((long) pages * 4096), pages);
    }

    @Override
    public void hypercallBufferFreePages(HypercallBuffer buffer) {
        try (Arena a = Arena.ofConfined()) {
            fn("xc__hypercall_buffer_free_pages").invokeExact(NativeCalls.errnoBuffer(a), xch, buffer.descriptor(), buffer.pages());
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xc__hypercall_buffer_free_pages failed", t);
        }
    }

    @Override
    public long logdirtyControl(int domid, int sop, HypercallBuffer bitmap, long pages, int mode, MemorySegment stats)
            throws HypervisorException {
        return call("xc_logdirty_control", domid, "domid=" + domid + ", sop=" + sop + ", pages=" + pages + ", mode=" + mode,
                (e, a) -> (long) fn("xc_logdirty_control").invokeExact(e, xch, domid, sop, bitmap.descriptor(), pages, mode, stats));
    }

    @Override
    public void vcpuGetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException {
        call("xc_vcpu_getcontext", domid, "domid=" + domid + ", vcpu=" + vcpu,
                (e, a) -> (int) fn("xc_vcpu_getcontext").invokeExact(e, xch, domid, vcpu, ctx));
    }

    @Override
    public void vcpuSetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException {
        call("xc_vcpu_setcontext", domid, "domid=" + domid + ", vcpu=" + vcpu,
                (e, a) -> (int) fn("xc_vcpu_setcontext").invokeExact(e, xch, domid, vcpu, ctx));
    }

    @Override
    public void vcpuGetInfo(int domid, int vcpu, MemorySegment info) throws HypervisorException {
        call("xc_vcpu_getinfo", domid, "domid=" + domid + ", vcpu=" + vcpu,
                (e, a) -> (int) fn("xc_vcpu_getinfo").invokeExact(e, xch, domid, vcpu, info));
    }

    @Override
    public int domainHvmGetContext(int domid, MemorySegment buf) throws HypervisorException {
        int size = (int) buf.byteSize();
        return (int) call("xc_domain_hvm_getcontext", domid, "domid=" + domid + ", size=" + size,
                (e, a) -> (int) fn("xc_domain_hvm_getcontext").invokeExact(e, xch, domid, buf, size));
    }

    @Override
    public void domainHvmSetContext(int domid, MemorySegment blob) throws HypervisorException {
        int size = (int) blob.byteSize();
        call("xc_domain_hvm_setcontext", domid, "domid=" + domid + ", size=" + size,
                (e, a) -> (int) fn("xc_domain_hvm_setcontext").invokeExact(e, xch, domid, blob, size));
    }

    @Override
    public long hvmParamGet(int domid, int param) throws HypervisorException {
        return callFor("xc_hvm_param_get", domid, "dom=" + domid + ", param=" + param, (e, a, rc) -> {
            MemorySegment out = a.allocate(JAVA_LONG);
            rc[0] = (int) fn("xc_hvm_param_get").invokeExact(e, xch, domid, param, out);
            return out.get(JAVA_LONG, 0);
        });
    }

    @Override
    public void hvmParamSet(int domid, int param, long value) throws HypervisorException {
        call("xc_hvm_param_set", domid, "dom=" + domid + ", param=" + param + ", value=0x" + Long.toHexString(value),
                (e, a) -> (int) fn("xc_hvm_param_set").invokeExact(e, xch, domid, param, value));
    }

    @Override
    public TscInfo domainGetTscInfo(int domid) throws HypervisorException {
        return callFor("xc_domain_get_tsc_info", domid, "domid=" + domid, (e, a, rc) -> {
            MemorySegment mode = a.allocate(JAVA_INT);
            MemorySegment nsec = a.allocate(JAVA_LONG);
            MemorySegment khz = a.allocate(JAVA_INT);
            MemorySegment inc = a.allocate(JAVA_INT);
            rc[0] = (int) fn("xc_domain_get_tsc_info").invokeExact(e, xch, domid, mode, nsec, khz, inc);
            return new TscInfo(mode.get(JAVA_INT, 0), nsec.get(JAVA_LONG, 0), khz.get(JAVA_INT, 0), inc.get(JAVA_INT, 0));
        });
    }

    @Override
    public void domainSetTscInfo(int domid, TscInfo t) throws HypervisorException {
        call("xc_domain_set_tsc_info", domid, "domid=" + domid + ", tsc_mode=" + t.mode() + ", elapsed_nsec=" + t.nsec()
                        + ", gtsc_khz=" + t.khz() + ", incarnation=" + t.incarnation(),
                (e, a) -> (int) fn("xc_domain_set_tsc_info").invokeExact(e, xch, domid, t.mode(), t.nsec(), t.khz(), t.incarnation()));
    }

    @Override
    public int domainCreate(MemorySegment config) throws HypervisorException {
        return callFor("xc_domain_create", null, "pdomid=0 (auto)", (e, a, rc) -> {
            MemorySegment domid = a.allocate(JAVA_INT); // 0: Xen allocates an id
            rc[0] = (int) fn("xc_domain_create").invokeExact(e, xch, domid, config);
            return domid.get(JAVA_INT, 0);
        });
    }

    @Override
    public void domainMaxVcpus(int domid, int max) throws HypervisorException {
        call("xc_domain_max_vcpus", domid, "domid=" + domid + ", max=" + max,
                (e, a) -> (int) fn("xc_domain_max_vcpus").invokeExact(e, xch, domid, max));
    }

    @Override
    public void domainSetMaxMem(int domid, long maxKb) throws HypervisorException {
        call("xc_domain_setmaxmem", domid, "domid=" + domid + ", max_memkb=" + maxKb,
                (e, a) -> (int) fn("xc_domain_setmaxmem").invokeExact(e, xch, domid, maxKb));
    }

    @Override
    public void setPagingMempoolSize(int domid, long bytes) throws HypervisorException {
        call("xc_set_paging_mempool_size", domid, "domid=" + domid + ", size=" + bytes,
                (e, a) -> (int) fn("xc_set_paging_mempool_size").invokeExact(e, xch, domid, bytes));
    }

    @Override
    public void domainPopulatePhysmapExact(int domid, long count, MemorySegment pfns) throws HypervisorException {
        call("xc_domain_populate_physmap_exact", domid, "domid=" + domid + ", nr_extents=" + count
                        + ", extent_order=0, mem_flags=0, first_pfn=0x" + Long.toHexString(pfns.get(JAVA_LONG, 0)),
                (e, a) -> (int) fn("xc_domain_populate_physmap_exact").invokeExact(e, xch, domid, count, 0, 0, pfns));
    }

    @Override
    public void domainDecreaseReservationExact(int domid, long count, MemorySegment pfns) throws HypervisorException {
        call("xc_domain_decrease_reservation_exact", domid, "domid=" + domid + ", nr_extents=" + count
                        + ", extent_order=0, first_pfn=0x" + Long.toHexString(pfns.get(JAVA_LONG, 0)),
                (e, a) -> (int) fn("xc_domain_decrease_reservation_exact").invokeExact(e, xch, domid, count, 0, pfns));
    }

    @Override
    public void setBrokenPageP2m(int domid, long pfn) throws HypervisorException {
        call("xc_set_broken_page_p2m", domid, "domid=" + domid + ", pfn=0x" + Long.toHexString(pfn),
                (e, a) -> (int) fn("xc_set_broken_page_p2m").invokeExact(e, xch, domid, pfn));
    }

    @Override
    public void getPfnTypeBatch(int domid, int num, MemorySegment arr) throws HypervisorException {
        call("xc_get_pfn_type_batch", domid, "dom=" + domid + ", num=" + num,
                (e, a) -> (int) fn("xc_get_pfn_type_batch").invokeExact(e, xch, domid, num, arr));
    }

    @Override
    public void domctl(MemorySegment domctl) throws HypervisorException {
        var l = XenLayouts.XEN_DOMCTL;
        int cmd = domctl.get(JAVA_INT, XenLayouts.offset(l, "cmd"));
        int domid = Short.toUnsignedInt(domctl.get(java.lang.foreign.ValueLayout.JAVA_SHORT, XenLayouts.offset(l, "domain")));
        domctl.set(JAVA_INT, XenLayouts.offset(l, "interface_version"), XenLayouts.XEN_DOMCTL_INTERFACE_VERSION);
        call("xc_domctl", domid, "cmd=" + cmd + ", domain=" + domid,
                (e, a) -> (int) fn("xc_domctl").invokeExact(e, xch, domctl));
    }

    @Override
    public long maximumRamPage() throws HypervisorException {
        return callFor("xc_maximum_ram_page", null, "max_mfn", (e, a, rc) -> {
            MemorySegment out = a.allocate(JAVA_LONG);
            rc[0] = (int) fn("xc_maximum_ram_page").invokeExact(e, xch, out);
            return out.get(JAVA_LONG, 0);
        });
    }

    @Override
    public void machphysMfnList(long maxExtents, MemorySegment extentStart) throws HypervisorException {
        call("xc_machphys_mfn_list", null, "max_extents=" + maxExtents,
                (e, a) -> (int) fn("xc_machphys_mfn_list").invokeExact(e, xch, maxExtents, extentStart));
    }

    @Override
    public long memoryOp(int cmd, MemorySegment arg) throws HypervisorException {
        long len = arg.byteSize();
        return call("xc_memory_op", null, "cmd=" + cmd + ", len=" + len,
                (e, a) -> (long) fn("xc_memory_op").invokeExact(e, xch, cmd, arg, len));
    }

    @Override
    public void mmuextOp(int domid, MemorySegment ops, int count) throws HypervisorException {
        call("xc_mmuext_op", domid, "nr_ops=" + count + ", dom=" + domid,
                (e, a) -> (int) fn("xc_mmuext_op").invokeExact(e, xch, ops, count, domid));
    }

    @Override
    public void close() throws HypervisorException {
        if (closed.compareAndSet(false, true)) {
            call("xc_interface_close", null, "xch", (e, a) -> (int) fn("xc_interface_close").invokeExact(e, xch));
        }
    }
}
