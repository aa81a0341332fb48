package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState.TscInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * An in-memory Xen for the adapter's unit tests: fakes of the three ports over one model of domains,
 * recording every call by its C name, with failures injected per call (errno and strerror are real, from
 * libc). Not thread-safe; tests drive it from one thread.
 */
final class FakeXen {

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int ESRCH = 3;
    static final int ENOMEM = 12;
    static final int EBUSY = 16;
    static final int EINVAL = 22;

    static final class Dom {
        int domid;
        int flags;
        int maxVcpuId;
        UUID uuid = UUID.randomUUID();
        long maxGpfn;
        int guestWidth = 8;
        final Map<Long, byte[]> pages = new TreeMap<>();
        final Set<Long> broken = new HashSet<>();
        final BitSet onlineVcpus = new BitSet();
        boolean logdirty;
        final BitSet dirty = new BitSet();
        byte[] hvmContext = new byte[0];
        final Map<Integer, Long> params = new HashMap<>();
        TscInfo tsc = new TscInfo(0, 0, 0, 0);
        int maxVcpus;
        long maxMemKb;
        long pagingPool;
        byte[] createConfig;

        boolean paused() {
            return (flags & XenLayouts.XEN_DOMINF_PAUSED) != 0;
        }
    }

    final TreeMap<Integer, Dom> domains = new TreeMap<>();
    final Map<String, String> xenstore = new TreeMap<>();
    final List<String> calls = new ArrayList<>();
    /** call name → errnos for its next calls, in order (0: let that call succeed). */
    final Map<String, java.util.ArrayDeque<Integer>> failures = new HashMap<>();
    /** PFNs whose xenforeignmemory_map slot reports an error even though the type query said populated. */
    final Set<Long> mapErrors = new HashSet<>();
    final Map<MemorySegment, Long> liveMappings = new IdentityHashMap<>();
    final Set<MemorySegment> liveBuffers = new HashSet<>();
    final List<Integer> lastLogdirtyModes = new ArrayList<>();
    final List<Long> mapCallSizes = new ArrayList<>();
    int nextDomid = 1;
    private final Arena arena = Arena.ofShared();

    /** Makes the next calls of {@code call} fail with these errnos, in order (0 lets one call through). */
    void fail(String call, Integer... errnos) {
        failures.computeIfAbsent(call, k -> new java.util.ArrayDeque<>()).addAll(List.of(errnos));
    }

    Dom addHvm(String name, long p2mSize, int vcpus) {
        Dom d = new Dom();
        d.domid = nextDomid++;
        d.flags = XenLayouts.XEN_DOMINF_HVM_GUEST;
        d.maxVcpuId = vcpus - 1;
        d.maxGpfn = p2mSize - 1;
        d.onlineVcpus.set(0, vcpus);
        domains.put(d.domid, d);
        if (name != null) {
            xenstore.put("/local/domain/" + d.domid + "/name", name);
        }
        return d;
    }

    Dom addPv(String name, long p2mSize, int vcpus, int widthBytes) {
        Dom d = addHvm(name, p2mSize, vcpus);
        d.flags = 0;
        d.guestWidth = widthBytes;
        return d;
    }

    /** A recognisable page: every byte is (pfn + seed). */
    static byte[] pattern(long pfn, int seed) {
        byte[] p = new byte[4096];
        java.util.Arrays.fill(p, (byte) (pfn + seed));
        return p;
    }

    private void enter(String call, Integer domid, String args) throws XenCallException {
        calls.add(call);
        java.util.ArrayDeque<Integer> queue = failures.get(call);
        Integer errno = queue == null ? null : queue.poll();
        if (errno != null && errno != 0) {
            throw new XenCallException(call, domid == null ? null : domid.toString(), args, -1, errno, XenNative.strerror(errno));
        }
    }

    private Dom dom(String call, int domid) throws XenCallException {
        Dom d = domains.get(domid);
        if (d == null) {
            throw new XenCallException(call, Integer.toString(domid), "domid=" + domid, -1, ESRCH, XenNative.strerror(ESRCH));
        }
        return d;
    }

    XenHypervisor hypervisor() {
        return new XenHypervisor(new Ctrl(), new Fmem(), new Store());
    }

    final class Ctrl implements XenCtrl {
        @Override
        public int domainGetInfoList(int firstDomid, int max, MemorySegment infos) throws HypervisorException {
            enter("xc_domain_getinfolist", null, "first_domain=" + firstDomid);
            int n = 0;
            var l = XenLayouts.XC_DOMAININFO;
            for (Dom d : domains.tailMap(firstDomid, true).values()) {
                if (n == max) {
                    break;
                }
                MemorySegment s = infos.asSlice(n * l.byteSize(), l.byteSize());
                s.fill((byte) 0);
                s.set(JAVA_SHORT, XenLayouts.offset(l, "domain"), (short) d.domid);
                s.set(JAVA_INT, XenLayouts.offset(l, "flags"), d.flags);
                s.set(JAVA_INT, XenLayouts.offset(l, "max_vcpu_id"), d.maxVcpuId);
                ByteBuffer b = ByteBuffer.allocate(16).putLong(d.uuid.getMostSignificantBits()).putLong(d.uuid.getLeastSignificantBits());
                MemorySegment.copy(MemorySegment.ofArray(b.array()), 0, s, XenLayouts.offset(l, "handle"), 16);
                n++;
            }
            return n;
        }

        @Override
        public void domainPause(int domid) throws HypervisorException {
            enter("xc_domain_pause", domid, "domid=" + domid);
            dom("xc_domain_pause", domid).flags |= XenLayouts.XEN_DOMINF_PAUSED;
        }

        @Override
        public void domainUnpause(int domid) throws HypervisorException {
            enter("xc_domain_unpause", domid, "domid=" + domid);
            dom("xc_domain_unpause", domid).flags &= ~XenLayouts.XEN_DOMINF_PAUSED;
        }

        @Override
        public void domainDestroy(int domid) throws HypervisorException {
            enter("xc_domain_destroy", domid, "domid=" + domid);
            dom("xc_domain_destroy", domid);
            domains.remove(domid);
        }

        @Override
        public int domainGetGuestWidth(int domid) throws HypervisorException {
            enter("xc_domain_get_guest_width", domid, "domid=" + domid);
            return dom("xc_domain_get_guest_width", domid).guestWidth;
        }

        @Override
        public long domainMaximumGpfn(int domid) throws HypervisorException {
            enter("xc_domain_maximum_gpfn", domid, "domid=" + domid);
            return dom("xc_domain_maximum_gpfn", domid).maxGpfn;
        }

        @Override
        public void shadowControl(int domid, int sop, int mode) throws HypervisorException {
            enter("xc_shadow_control", domid, "sop=" + sop);
            calls.set(calls.size() - 1, "xc_shadow_control:" + sop);
            Dom d = dom("xc_shadow_control", domid);
            if (sop == XenLayouts.XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) {
                if (d.logdirty) {
                    throw new XenCallException("xc_shadow_control", "" + domid, "sop=2", -1, EBUSY, XenNative.strerror(EBUSY));
                }
                d.logdirty = true;
                d.dirty.clear();
            } else if (sop == XenLayouts.XEN_DOMCTL_SHADOW_OP_OFF) {
                d.logdirty = false;
            } else {
                throw new XenCallException("xc_shadow_control", "" + domid, "sop=" + sop, -1, EINVAL, XenNative.strerror(EINVAL));
            }
        }

        @Override
        public HypercallBuffer hypercallBufferAllocPages(int pages) throws HypervisorException {
            enter("xc__hypercall_buffer_alloc_pages", null, "nr_pages=" + pages);
            MemorySegment data = arena.allocate((long) pages * 4096, 4096);
            data.fill((byte) 0xAA); // garbage, as fresh pages may hold: the adapter must not trust it
            liveBuffers.add(data);
            return new HypercallBuffer(arena.allocate(XenLayouts.XC_HYPERCALL_BUFFER), data, pages);
        }

        @Override
        public void hypercallBufferFreePages(HypercallBuffer buffer) {
            calls.add("xc__hypercall_buffer_free_pages");
            if (!liveBuffers.remove(buffer.data())) {
                throw new IllegalStateException("double free of a hypercall buffer");
            }
        }

        @Override
        public long logdirtyControl(int domid, int sop, HypercallBuffer bitmap, long pages, int mode, MemorySegment stats)
                throws HypervisorException {
            enter("xc_logdirty_control", domid, "sop=" + sop);
            calls.set(calls.size() - 1, "xc_logdirty_control:" + sop);
            lastLogdirtyModes.add(mode);
            Dom d = dom("xc_logdirty_control", domid);
            if (!d.logdirty) {
                throw new XenCallException("xc_logdirty_control", "" + domid, "sop=" + sop, -1, EINVAL, XenNative.strerror(EINVAL));
            }
            if (!liveBuffers.contains(bitmap.data()) || bitmap.data().byteSize() * 8 < pages) {
                throw new IllegalStateException("logdirty into a freed or short buffer");
            }
            // Xen writes whole longs, bits past `pages` included (here: set, to catch an adapter that keeps them)
            long words = (pages + 63) / 64;
            for (long w = 0; w < words; w++) {
                long v = 0;
                for (int b = 0; b < 64; b++) {
                    long pfn = w * 64 + b;
                    if (pfn >= pages || d.dirty.get((int) pfn)) {
                        v |= 1L << b;
                    }
                }
                bitmap.data().setAtIndex(JAVA_LONG, w, v);
            }
            stats.set(JAVA_INT, 0, 7);
            stats.set(JAVA_INT, 4, d.dirty.cardinality());
            if (sop == XenLayouts.XEN_DOMCTL_SHADOW_OP_CLEAN) {
                d.dirty.clear();
            }
            return pages;
        }

        @Override
        public void vcpuGetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException {
            enter("xc_vcpu_getcontext", domid, "vcpu=" + vcpu);
            throw new UnsupportedOperationException("not used by the HVM adapter");
        }

        @Override
        public void vcpuSetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException {
            enter("xc_vcpu_setcontext", domid, "vcpu=" + vcpu);
            throw new UnsupportedOperationException("not used by the HVM adapter");
        }

        @Override
        public void vcpuGetInfo(int domid, int vcpu, MemorySegment info) throws HypervisorException {
            enter("xc_vcpu_getinfo", domid, "vcpu=" + vcpu);
            Dom d = dom("xc_vcpu_getinfo", domid);
            info.fill((byte) 0);
            info.set(JAVA_INT, 0, vcpu);
            info.set(JAVA_BYTE, XenLayouts.offset(XenLayouts.XC_VCPUINFO, "online"), (byte) (d.onlineVcpus.get(vcpu) ? 1 : 0));
        }

        @Override
        public int domainHvmGetContext(int domid, MemorySegment buf) throws HypervisorException {
            enter("xc_domain_hvm_getcontext", domid, "size=" + buf.byteSize());
            Dom d = dom("xc_domain_hvm_getcontext", domid);
            if (buf.equals(MemorySegment.NULL)) {
                return d.hvmContext.length;
            }
            if (buf.byteSize() < d.hvmContext.length) {
                throw new XenCallException("xc_domain_hvm_getcontext", "" + domid, "", -1, ENOMEM, XenNative.strerror(ENOMEM));
            }
            MemorySegment.copy(d.hvmContext, 0, buf, JAVA_BYTE, 0, d.hvmContext.length);
            return d.hvmContext.length;
        }

        @Override
        public void domainHvmSetContext(int domid, MemorySegment blob) throws HypervisorException {
            enter("xc_domain_hvm_setcontext", domid, "size=" + blob.byteSize());
            dom("xc_domain_hvm_setcontext", domid).hvmContext = blob.toArray(JAVA_BYTE);
        }

        @Override
        public long hvmParamGet(int domid, int param) throws HypervisorException {
            enter("xc_hvm_param_get", domid, "param=" + param);
            return dom("xc_hvm_param_get", domid).params.getOrDefault(param, 0L);
        }

        @Override
        public void hvmParamSet(int domid, int param, long value) throws HypervisorException {
            enter("xc_hvm_param_set", domid, "param=" + param);
            dom("xc_hvm_param_set", domid).params.put(param, value);
        }

        @Override
        public TscInfo domainGetTscInfo(int domid) throws HypervisorException {
            enter("xc_domain_get_tsc_info", domid, "");
            return dom("xc_domain_get_tsc_info", domid).tsc;
        }

        @Override
        public void domainSetTscInfo(int domid, TscInfo info) throws HypervisorException {
            enter("xc_domain_set_tsc_info", domid, "");
            dom("xc_domain_set_tsc_info", domid).tsc = info;
        }

        @Override
        public int domainCreate(MemorySegment config) throws HypervisorException {
            enter("xc_domain_create", null, "");
            var l = XenLayouts.XEN_DOMCTL_CREATEDOMAIN;
            Dom d = new Dom();
            d.domid = nextDomid++;
            d.createConfig = config.toArray(JAVA_BYTE);
            int cf = config.get(JAVA_INT, XenLayouts.offset(l, "flags"));
            d.flags = XenLayouts.XEN_DOMINF_PAUSED | ((cf & XenLayouts.XEN_DOMCTL_CDF_HVM) != 0 ? XenLayouts.XEN_DOMINF_HVM_GUEST : 0);
            d.maxVcpuId = config.get(JAVA_INT, XenLayouts.offset(l, "max_vcpus")) - 1;
            ByteBuffer b = ByteBuffer.wrap(config.asSlice(XenLayouts.offset(l, "handle"), 16).toArray(JAVA_BYTE));
            d.uuid = new UUID(b.getLong(), b.getLong());
            d.maxGpfn = 0;
            domains.put(d.domid, d);
            return d.domid;
        }

        @Override
        public void domainMaxVcpus(int domid, int max) throws HypervisorException {
            enter("xc_domain_max_vcpus", domid, "max=" + max);
            dom("xc_domain_max_vcpus", domid).maxVcpus = max;
        }

        @Override
        public void domainSetMaxMem(int domid, long maxKb) throws HypervisorException {
            enter("xc_domain_setmaxmem", domid, "max_memkb=" + maxKb);
            dom("xc_domain_setmaxmem", domid).maxMemKb = maxKb;
        }

        @Override
        public void setPagingMempoolSize(int domid, long bytes) throws HypervisorException {
            enter("xc_set_paging_mempool_size", domid, "size=" + bytes);
            dom("xc_set_paging_mempool_size", domid).pagingPool = bytes;
        }

        @Override
        public void domainPopulatePhysmapExact(int domid, long count, MemorySegment pfns) throws HypervisorException {
            enter("xc_domain_populate_physmap_exact", domid, "nr=" + count);
            Dom d = dom("xc_domain_populate_physmap_exact", domid);
            for (long i = 0; i < count; i++) {
                long pfn = pfns.getAtIndex(JAVA_LONG, i);
                if (d.pages.containsKey(pfn)) {
                    throw new XenCallException("xc_domain_populate_physmap_exact", "" + domid, "pfn=" + pfn, -1, EBUSY, XenNative.strerror(EBUSY));
                }
                d.pages.put(pfn, new byte[4096]);
                d.maxGpfn = Math.max(d.maxGpfn, pfn);
            }
        }

        @Override
        public void domainDecreaseReservationExact(int domid, long count, MemorySegment pfns) throws HypervisorException {
            enter("xc_domain_decrease_reservation_exact", domid, "nr=" + count);
            Dom d = dom("xc_domain_decrease_reservation_exact", domid);
            for (long i = 0; i < count; i++) {
                d.pages.remove(pfns.getAtIndex(JAVA_LONG, i));
            }
        }

        @Override
        public void setBrokenPageP2m(int domid, long pfn) throws HypervisorException {
            enter("xc_set_broken_page_p2m", domid, "pfn=" + pfn);
            dom("xc_set_broken_page_p2m", domid).broken.add(pfn);
        }

        @Override
        public void getPfnTypeBatch(int domid, int num, MemorySegment arr) throws HypervisorException {
            enter("xc_get_pfn_type_batch", domid, "num=" + num);
            Dom d = dom("xc_get_pfn_type_batch", domid);
            for (int i = 0; i < num; i++) {
                long pfn = arr.getAtIndex(JAVA_LONG, i);
                long type = d.broken.contains(pfn) ? 0xD000_0000L : d.pages.containsKey(pfn) ? 0 : 0xF000_0000L;
                arr.setAtIndex(JAVA_LONG, i, type);
            }
        }

        @Override
        public void close() {
            calls.add("xc_interface_close");
        }
    }

    final class Fmem implements ForeignMemory {
        @Override
        public MemorySegment map(int domid, int prot, long pages, MemorySegment pfns, MemorySegment errs) throws HypervisorException {
            enter("xenforeignmemory_map", domid, "pages=" + pages);
            mapCallSizes.add(pages);
            Dom d = dom("xenforeignmemory_map", domid);
            if (pages < 1 || pages > 1024) {
                throw new IllegalStateException("the adapter must map 1..1024 pages per call, not " + pages);
            }
            MemorySegment region = arena.allocate(pages * 4096, 4096);
            for (long i = 0; i < pages; i++) {
                long pfn = pfns.getAtIndex(JAVA_LONG, i);
                if (d.broken.contains(pfn)) {
                    throw new IllegalStateException("mapped broken pfn " + pfn + ": that would raise a machine check");
                }
                byte[] page = d.pages.get(pfn);
                if (page == null || mapErrors.contains(pfn)) {
                    errs.setAtIndex(JAVA_INT, i, -EINVAL);
                } else {
                    errs.setAtIndex(JAVA_INT, i, 0);
                    MemorySegment.copy(page, 0, region, JAVA_BYTE, i * 4096, 4096);
                }
            }
            liveMappings.put(region, domid | ((long) prot << 32));
            mappedPfns.put(region, pfns.toArray(JAVA_LONG));
            return region;
        }

        /** Writable mappings write back on unmap (the model keeps pages as arrays). */
        @Override
        public void unmap(MemorySegment region, long pages) throws HypervisorException {
            enter("xenforeignmemory_unmap", null, "pages=" + pages);
            Long key = liveMappings.remove(region);
            if (key == null) {
                throw new IllegalStateException("unmap of a region that is not mapped");
            }
            if (region.byteSize() != pages * 4096) {
                throw new IllegalStateException("unmap with " + pages + " pages of a " + region.byteSize() + "-byte region");
            }
            int domid = (int) (long) key;
            int prot = (int) (key >>> 32);
            long[] pfns = mappedPfns.remove(region);
            Dom d = domains.get(domid);
            if ((prot & XenLayouts.PROT_WRITE) != 0 && d != null) {
                for (int i = 0; i < pfns.length; i++) {
                    if (d.pages.containsKey(pfns[i])) {
                        d.pages.put(pfns[i], region.asSlice(i * 4096L, 4096).toArray(JAVA_BYTE));
                    }
                }
            }
        }

        @Override
        public void close() {
            calls.add("xenforeignmemory_close");
        }
    }

    final Map<MemorySegment, long[]> mappedPfns = new IdentityHashMap<>();

    final class Store implements XenStore {
        @Override
        public Optional<String> read(String path) throws HypervisorException {
            enter("xs_read", null, path);
            return Optional.ofNullable(xenstore.get(path));
        }

        @Override
        public void write(String path, String value) throws HypervisorException {
            enter("xs_write", null, path);
            xenstore.put(path, value);
        }

        @Override
        public void remove(String path) throws HypervisorException {
            enter("xs_rm", null, path);
            xenstore.keySet().removeIf(k -> k.equals(path) || k.startsWith(path + "/"));
        }

        @Override
        public void close() {
            calls.add("xs_close");
        }
    }
}
