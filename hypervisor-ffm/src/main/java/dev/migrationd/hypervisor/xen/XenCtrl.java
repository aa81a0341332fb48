package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.MemorySegment;

/**
 * The port to libxenctrl (Xen 4.17): one method per C call the adapter uses, with the C name and
 * arguments, so that the adapter can be tested against a fake. Struct arguments are segments laid out as
 * {@link XenLayouts} says. Every failure is a {@link NativeCallException} naming the call, its arguments,
 * the return code and {@code errno}. Implementations are safe for concurrent use (libxc handles opened
 * without {@code XC_OPENFLAG_NON_REENTRANT} are).
 */
interface XenCtrl extends AutoCloseable {

    /** {@code xc_domain_getinfolist}: fills up to {@code max} {@link XenLayouts#XC_DOMAININFO} entries; returns how many. */
    int domainGetInfoList(int firstDomid, int max, MemorySegment infos) throws HypervisorException;

    /** {@code xc_domain_pause}. */
    void domainPause(int domid) throws HypervisorException;

    /** {@code xc_domain_unpause}. */
    void domainUnpause(int domid) throws HypervisorException;

    /** {@code xc_domain_destroy}. */
    void domainDestroy(int domid) throws HypervisorException;

    /** {@code xc_domain_get_guest_width}: the guest's word width in bytes (PV: 4 or 8). */
    int domainGetGuestWidth(int domid) throws HypervisorException;

    /** {@code xc_domain_maximum_gpfn}: the highest guest PFN. */
    long domainMaximumGpfn(int domid) throws HypervisorException;

    /** {@code xc_shadow_control(xch, domid, sop, NULL, mode)}: ENABLE_LOGDIRTY and OFF. */
    void shadowControl(int domid, int sop, int mode) throws HypervisorException;

    /** {@code xc__hypercall_buffer_alloc_pages}: hypercall-safe memory for a dirty bitmap. */
    HypercallBuffer hypercallBufferAllocPages(int pages) throws HypervisorException;

    /** {@code xc__hypercall_buffer_free_pages}. */
    void hypercallBufferFreePages(HypercallBuffer buffer);

    /**
     * {@code xc_logdirty_control}: CLEAN or PEEK into {@code bitmap}, covering {@code pages} PFNs; fills
     * {@code stats} ({@link XenLayouts#XC_SHADOW_OP_STATS}). Returns the number of pages Xen processed.
     */
    long logdirtyControl(int domid, int sop, HypercallBuffer bitmap, long pages, int mode, MemorySegment stats)
            throws HypervisorException;

    /** {@code xc_vcpu_getcontext} into a {@link XenLayouts#VCPU_GUEST_CONTEXT_ANY} buffer. */
    void vcpuGetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException;

    /** {@code xc_vcpu_setcontext}. */
    void vcpuSetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException;

    /** {@code xc_vcpu_getinfo} into a {@link XenLayouts#XC_VCPUINFO} buffer. */
    void vcpuGetInfo(int domid, int vcpu, MemorySegment info) throws HypervisorException;

    /**
     * {@code xc_domain_hvm_getcontext}: with {@link MemorySegment#NULL} returns the size the blob needs;
     * otherwise fills {@code buf} and returns the size used.
     */
    int domainHvmGetContext(int domid, MemorySegment buf) throws HypervisorException;

    /** {@code xc_domain_hvm_setcontext}. */
    void domainHvmSetContext(int domid, MemorySegment blob) throws HypervisorException;

    /** {@code xc_hvm_param_get}. */
    long hvmParamGet(int domid, int param) throws HypervisorException;

    /** {@code xc_hvm_param_set}. */
    void hvmParamSet(int domid, int param, long value) throws HypervisorException;

    /** {@code xc_domain_get_tsc_info}. */
    TscInfo domainGetTscInfo(int domid) throws HypervisorException;

    /** {@code xc_domain_set_tsc_info}. */
    void domainSetTscInfo(int domid, TscInfo info) throws HypervisorException;

    /** {@code xc_domain_create} with a {@link XenLayouts#XEN_DOMCTL_CREATEDOMAIN} config; Xen picks the id. */
    int domainCreate(MemorySegment config) throws HypervisorException;

    /** {@code xc_domain_max_vcpus} (must equal the create config's {@code max_vcpus}). */
    void domainMaxVcpus(int domid, int max) throws HypervisorException;

    /** {@code xc_domain_setmaxmem}. */
    void domainSetMaxMem(int domid, long maxKb) throws HypervisorException;

    /** {@code xc_set_paging_mempool_size} (HAP/shadow page-table pool; libxl sets it after create). */
    void setPagingMempoolSize(int domid, long bytes) throws HypervisorException;

    /** {@code xc_domain_populate_physmap_exact} for {@code count} extents of order 0 listed in {@code pfns} (xen_pfn_t[]). */
    void domainPopulatePhysmapExact(int domid, long count, MemorySegment pfns) throws HypervisorException;

    /** {@code xc_domain_decrease_reservation_exact} for {@code count} extents of order 0. */
    void domainDecreaseReservationExact(int domid, long count, MemorySegment pfns) throws HypervisorException;

    /** {@code xc_set_broken_page_p2m}. */
    void setBrokenPageP2m(int domid, long pfn) throws HypervisorException;

    /**
     * {@code xc_get_pfn_type_batch} (exported by libxenctrl 4.17, declared in its {@code xc_private.h}):
     * {@code arr} holds {@code num} PFNs (xen_pfn_t) on entry and their {@code XEN_DOMCTL_PFINFO_*} types on return.
     */
    void getPfnTypeBatch(int domid, int num, MemorySegment arr) throws HypervisorException;

    /**
     * {@code xc_domctl}: a raw {@link XenLayouts#XEN_DOMCTL} (cmd, domain and the union filled by the caller;
     * the interface version is set here). Xen writes results back into the same struct.
     */
    void domctl(MemorySegment domctl) throws HypervisorException;

    /** {@code xc_maximum_ram_page}: the host's highest machine frame number (bounds the M2P). */
    long maximumRamPage() throws HypervisorException;

    /** {@code xc_machphys_mfn_list}: the MFNs of the M2P's 2 MiB chunks, {@code maxExtents} xen_pfn_t into {@code extentStart}. */
    void machphysMfnList(long maxExtents, MemorySegment extentStart) throws HypervisorException;

    /** {@code xc_memory_op(xch, cmd, arg, arg.byteSize())}: used for {@code XENMEM_machphys_compat_mfn_list}. */
    long memoryOp(int cmd, MemorySegment arg) throws HypervisorException;

    /** {@code xc_mmuext_op}: {@code count} {@link XenLayouts#MMUEXT_OP} entries (page-table pinning) on {@code domid}. */
    void mmuextOp(int domid, MemorySegment ops, int count) throws HypervisorException;

    /** {@code xc_interface_close}. */
    @Override
    void close() throws HypervisorException;

    /**
     * A hypercall buffer: {@code descriptor} is the {@link XenLayouts#XC_HYPERCALL_BUFFER} struct libxc
     * tracks it by, {@code data} the hypercall-safe pages.
     */
    record HypercallBuffer(MemorySegment descriptor, MemorySegment data, int pages) {
    }
}
