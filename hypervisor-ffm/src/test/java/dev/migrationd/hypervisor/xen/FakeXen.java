package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import dev.migrationd.protocol.x86.TscInfo;
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
        /** Pages the domain holds and may hold, as xc_domaininfo_t reports them. */
        long totPages;
        long maxPages;
        /** xen_arch_domainconfig.emulation_flags: what libxl gives an HVM guest, LAPIC alone for PVH, 0 for PV. */
        int emulationFlags;
        long pagingPool;
        byte[] createConfig;
        // PV model
        long sharedInfoMfn;
        final TreeMap<Long, Long> pfnToMfn = new TreeMap<>();
        /** MFN → XEN_DOMCTL_PFINFO_* type of the page. */
        final Map<Long, Long> pageTypes = new HashMap<>();
        long[] p2mFramePfns;
        long fllMfn;
        final Map<Integer, byte[]> vcpuContexts = new TreeMap<>();
        final Map<Integer, byte[]> extContexts = new TreeMap<>();
        final Map<Integer, byte[]> xsave = new TreeMap<>();
        long xfeatureMask;
        /**
         * A PV guest's start_info frame, which its suspend hypercall (SCHEDOP_shutdown(suspend)) leaves in vCPU 0's
         * rdx/edx: the fake's libxl_domain_suspend_only puts it there when set. Until then rdx holds what the guest
         * was computing.
         */
        long startInfoMfn;
        /** Every MMUEXT pin Xen accepted: {cmd, mfn}. */
        final List<long[]> pins = new ArrayList<>();
        final List<Integer> pinBatchSizes = new ArrayList<>();
        int addressSizeBits;

        boolean paused() {
            return (flags & XenLayouts.XEN_DOMINF_PAUSED) != 0;
        }

        boolean pv() {
            return (flags & XenLayouts.XEN_DOMINF_HVM_GUEST) == 0;
        }
    }

    // ---- PV model: machine memory, shared by every domain, and Xen's M2P ------------------------------------

    /** MFN → page. */
    final Map<Long, byte[]> machine = new HashMap<>();
    /** MFN → owning domain. */
    final Map<Long, Integer> owner = new HashMap<>();
    /** Xen's M2P, MFN → PFN (missing: ~0). */
    final Map<Long, Long> m2p = new HashMap<>();
    /** xc_maximum_ram_page: a 1 GiB host, one 2 MiB M2P chunk. */
    long maxMfn = 0x3_FFFF;
    /** Xen's frames of the M2P chunks (contiguous, 512 per chunk), mapped through DOMID_XEN. */
    final long m2pChunkBase = 0x4_0000;
    final long compatM2pMfn0 = 0x4_1000;
    long nextMfn = 0x2_0000;
    /** Stride between the MFNs handed out, so that PFN order and MFN order differ. */
    long mfnStride = 3;

    long m2pChunks() {
        return (maxMfn + 1 + 262_143) / 262_144;
    }

    long allocMfn(int domid) {
        long mfn = nextMfn;
        nextMfn += mfnStride;
        if (mfn > maxMfn) {
            throw new IllegalStateException("fake host out of machine frames");
        }
        owner.put(mfn, domid);
        machine.put(mfn, new byte[4096]);
        return mfn;
    }

    static void putWord(byte[] page, long offset, int width, long value) {
        ByteBuffer b = ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (width == 8) {
            b.putLong((int) offset, value);
        } else {
            b.putInt((int) offset, (int) value);
        }
    }

    static long getWord(byte[] page, long offset, int width) {
        ByteBuffer b = ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return width == 8 ? b.getLong((int) offset) : Integer.toUnsignedLong(b.getInt((int) offset));
    }

    /**
     * A running PV guest: every PFN but {@code holes} has a page (pattern(pfn, 1)) at a scattered MFN; its p2m
     * lives in the highest populated PFNs, reached through a frame list and frame list list (frames outside
     * the p2m, as a kernel's own allocations would be) named by its shared info.
     */
    Dom addPvGuest(String name, long p2mSize, int vcpus, int width, java.util.Set<Long> holes) {
        Dom d = addPv(name, p2mSize, vcpus, width);
        for (long pfn = 0; pfn < p2mSize; pfn++) {
            if (!holes.contains(pfn)) {
                long mfn = allocMfn(d.domid);
                machine.put(mfn, pattern(pfn, 1));
                m2p.put(mfn, pfn);
                d.pfnToMfn.put(pfn, mfn);
            }
        }
        int fpp = 4096 / width;
        int frames = (int) ((p2mSize + fpp - 1) / fpp);
        d.p2mFramePfns = new long[frames];
        java.util.Iterator<Long> high = d.pfnToMfn.descendingKeySet().iterator();
        for (int i = frames - 1; i >= 0; i--) {
            d.p2mFramePfns[i] = high.next();
        }
        writeGuestP2m(d, width);
        int flPages = (frames + fpp - 1) / fpp;
        long[] flMfns = new long[flPages];
        for (int i = 0; i < flPages; i++) {
            flMfns[i] = allocMfn(d.domid);
        }
        for (int x = 0; x < frames; x++) {
            putWord(machine.get(flMfns[x / fpp]), (long) (x % fpp) * width, width, d.pfnToMfn.get(d.p2mFramePfns[x]));
        }
        d.fllMfn = allocMfn(d.domid);
        for (int i = 0; i < flPages; i++) {
            putWord(machine.get(d.fllMfn), (long) i * width, width, flMfns[i]);
        }
        d.sharedInfoMfn = allocMfn(d.domid);
        byte[] shinfo = machine.get(d.sharedInfoMfn);
        java.util.Arrays.fill(shinfo, (byte) 0x5A);
        var l = width == 8 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
        putWord(shinfo, XenLayouts.offset(l, "arch", "max_pfn"), width, p2mSize);
        putWord(shinfo, XenLayouts.offset(l, "arch", "pfn_to_mfn_frame_list_list"), width, d.fllMfn);
        putWord(shinfo, XenLayouts.offset(l, "arch", "p2m_cr3"), width, 0);
        return d;
    }

    /**
     * Publishes the guest's p2m as a linear list at {@code vaddr} instead of the tree, as a Linux guest does
     * when the toolstack allows it: page tables (in the guest's PFNs {@code tablePfns}, top level first) map
     * the p2m frames at {@code vaddr}; the frame list list becomes ~0.
     */
    void makeLinearP2m(Dom d, int width, long vaddr, long... tablePfns) {
        int levels = width == 8 ? 4 : 3;
        java.util.Iterator<Long> pool = java.util.Arrays.stream(tablePfns).iterator();
        Map<String, Long> tables = new HashMap<>();
        java.util.function.BiFunction<Integer, Long, Long> table = (level, v) -> tables.computeIfAbsent(
                level + ":" + (level == levels ? 0 : v >>> (12 + 9 * level)), k -> {
                    long mfn = d.pfnToMfn.get(pool.next());
                    java.util.Arrays.fill(machine.get(mfn), (byte) 0);
                    return mfn;
                });
        for (int j = 0; j < d.p2mFramePfns.length; j++) {
            long v = vaddr + j * 4096L;
            for (int level = levels; level >= 1; level--) {
                int index = (int) ((v >>> (12 + 9 * (level - 1))) & (level == 3 && levels == 3 ? 3 : 511));
                long target = level == 1 ? d.pfnToMfn.get(d.p2mFramePfns[j]) : table.apply(level - 1, v);
                putWord(machine.get(table.apply(level, v)), index * 8L, 8, (target << 12) | 0x67);
            }
        }
        long root = table.apply(levels, vaddr);
        byte[] shinfo = machine.get(d.sharedInfoMfn);
        var l = width == 8 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
        putWord(shinfo, XenLayouts.offset(l, "arch", "pfn_to_mfn_frame_list_list"), width, -1L);
        putWord(shinfo, XenLayouts.offset(l, "arch", "p2m_cr3"), width, PvCanonical.frameToCr3(width == 8
                ? dev.migrationd.protocol.Width.W64 : dev.migrationd.protocol.Width.W32, root));
        putWord(shinfo, XenLayouts.offset(l, "arch", "p2m_vaddr"), width, vaddr);
        putWord(shinfo, XenLayouts.offset(l, "arch", "p2m_generation"), width, 5);
    }

    /** Changes a word of machine memory and of every live mapping of that frame (the fake's mappings are copies). */
    void pokeWord(long mfn, long offset, int width, long value) {
        putWord(machine.get(mfn), offset, width, value);
        for (var e : mappedPfns.entrySet()) {
            long[] frames = e.getValue();
            for (int i = 0; i < frames.length; i++) {
                if (frames[i] == mfn && liveMappings.containsKey(e.getKey())) {
                    MemorySegment page = e.getKey().asSlice(i * 4096L, 4096);
                    if (width == 8) {
                        page.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, offset, value);
                    } else {
                        page.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, offset, (int) value);
                    }
                }
            }
        }
    }

    /** (Re)writes a PV guest's p2m into its p2m frames: GW-sized MFNs, ~0 for holes. */
    void writeGuestP2m(Dom d, int width) {
        int fpp = 4096 / width;
        for (int x = 0; x < d.p2mFramePfns.length; x++) {
            byte[] page = machine.get(d.pfnToMfn.get(d.p2mFramePfns[x]));
            for (int k = 0; k < fpp; k++) {
                long pfn = (long) x * fpp + k;
                Long mfn = pfn <= d.maxGpfn ? d.pfnToMfn.get(pfn) : null;
                putWord(page, (long) k * width, width, mfn == null ? -1L : mfn);
            }
        }
    }

    /** Makes PFN {@code pfn} of a PV guest a page table of {@code type} holding {@code ptes} (512 entries). */
    void setPageTable(Dom d, long pfn, dev.migrationd.protocol.PageType type, long[] ptes) {
        long mfn = d.pfnToMfn.get(pfn);
        ByteBuffer b = ByteBuffer.wrap(machine.get(mfn)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 512; i++) {
            b.putLong(i * 8, ptes[i]);
        }
        d.pageTypes.put(mfn, Integer.toUnsignedLong(type.pfinfo()));
    }

    /** The page of a PV guest's PFN. */
    byte[] pvPage(Dom d, long pfn) {
        return machine.get(d.pfnToMfn.get(pfn));
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
        d.totPages = p2mSize;
        d.maxPages = p2mSize;
        d.emulationFlags = XenLayouts.XEN_X86_EMU_HVM_DEFAULT;
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
        d.emulationFlags = 0;
        d.guestWidth = widthBytes;
        return d;
    }

    /**
     * A PVH guest as libxl builds it: {@code memMib} of RAM (its toolstack's {@code memory/static-max}), a few
     * extra pages Xen counts, a maxmem with libxl's 1 MiB of slack, and special pages just below 0xff000 that
     * make its highest PFN far larger than its RAM.
     */
    Dom addPvh(String name, long memMib, int vcpus) {
        Dom d = addHvm(name, 0xfeff9 + 1, vcpus);
        d.emulationFlags = XenLayouts.XEN_X86_EMU_LAPIC;
        d.totPages = memMib * 256 + 5;
        d.maxPages = memMib * 256 + 256;
        xenstore.put("/local/domain/" + d.domid + "/memory/static-max", Long.toString(memMib * 1024));
        return d;
    }

    /** A recognisable page: every byte is (pfn + seed). */
    static byte[] pattern(long pfn, int seed) {
        byte[] p = new byte[4096];
        java.util.Arrays.fill(p, (byte) (pfn + seed));
        return p;
    }

    private void enter(String call, Integer domid, String args) throws NativeCallException {
        calls.add(call);
        java.util.ArrayDeque<Integer> queue = failures.get(call);
        Integer errno = queue == null ? null : queue.poll();
        if (errno != null && errno != 0) {
            throw new NativeCallException(call, domid == null ? null : domid.toString(), args, -1, errno, NativeCalls.strerror(errno));
        }
    }

    private Dom dom(String call, int domid) throws NativeCallException {
        Dom d = domains.get(domid);
        if (d == null) {
            throw new NativeCallException(call, Integer.toString(domid), "domid=" + domid, -1, ESRCH, NativeCalls.strerror(ESRCH));
        }
        return d;
    }

    XenHypervisor hypervisor() {
        return new XenHypervisor(new Ctrl(), new Fmem(), new Store());
    }

    /** The adapter with {@code toolstack} as its libxl. */
    XenHypervisor hypervisor(Toolstack toolstack) {
        return new XenHypervisor(new Ctrl(), new Fmem(), new Store(), toolstack);
    }

    /**
     * libxl as far as the backend uses it, acting on this fake's domains: suspend marks the domain shut down
     * for suspend, resume clears it, rename and destroy change the domain list; createRestore reads its fd to
     * the end of the input (or until {@link #restoreFailAfter} bytes, then fails as libxl would on a bad stream),
     * keeps what it read in {@link #restoredStream} and adds a paused PVH domain. Failures: {@code fail(call)}.
     */
    final class FakeToolstack implements Toolstack {
        final java.io.ByteArrayOutputStream restoredStream = new java.io.ByteArrayOutputStream();
        /** Bytes createRestore reads before it fails; -1: it reads to the end and succeeds. */
        volatile long restoreFailAfter = -1;
        /** What configJson returns instead of a small valid configuration, when set. */
        volatile String configOverride;
        volatile boolean closed;

        @Override
        public String configJson(int domid) throws HypervisorException {
            enter("libxl_retrieve_domain_configuration", domid, "domid=" + domid);
            dom("libxl_retrieve_domain_configuration", domid);
            if (configOverride != null) {
                return configOverride;
            }
            return "{\"c_info\": {\"type\": \"pvh\", \"name\": \"" + xenstore.get("/local/domain/" + domid + "/name") + "\"}}";
        }

        @Override
        public void suspendOnly(int domid) throws HypervisorException {
            enter("libxl_domain_suspend_only", domid, "domid=" + domid);
            Dom d = dom("libxl_domain_suspend_only", domid);
            if (d.pv() && d.startInfoMfn != 0 && d.vcpuContexts.containsKey(0)) {
                var o = PvCanonical.VcpuOffsets.of(d.guestWidth == 4 ? dev.migrationd.protocol.Width.W32
                        : dev.migrationd.protocol.Width.W64);
                o.setWord(MemorySegment.ofArray(d.vcpuContexts.get(0)), o.edx(), d.startInfoMfn);
            }
            d.flags = (d.flags & 0xffff) | XenLayouts.XEN_DOMINF_SHUTDOWN
                    | (XenLayouts.SHUTDOWN_SUSPEND << XenLayouts.XEN_DOMINF_SHUTDOWN_SHIFT);
        }

        @Override
        public void resume(int domid, boolean suspendCancel) throws HypervisorException {
            enter("libxl_domain_resume", domid, "domid=" + domid + ", suspend_cancel=" + suspendCancel);
            Dom d = dom("libxl_domain_resume", domid);
            d.flags = (d.flags & 0xffff) & ~XenLayouts.XEN_DOMINF_SHUTDOWN;
        }

        @Override
        public void unpause(int domid) throws HypervisorException {
            enter("libxl_domain_unpause", domid, "domid=" + domid);
            dom("libxl_domain_unpause", domid).flags &= ~XenLayouts.XEN_DOMINF_PAUSED;
        }

        @Override
        public void rename(int domid, String oldName, String newName) throws HypervisorException {
            enter("libxl_domain_rename", domid, "domid=" + domid + ", new_name=" + newName);
            dom("libxl_domain_rename", domid);
            xenstore.put("/local/domain/" + domid + "/name", newName);
        }

        @Override
        public void destroy(int domid) throws HypervisorException {
            enter("libxl_domain_destroy", domid, "domid=" + domid);
            dom("libxl_domain_destroy", domid);
            domains.remove(domid);
            xenstore.keySet().removeIf(k -> k.startsWith("/local/domain/" + domid + "/"));
        }

        @Override
        public int createRestore(String configJson, String name, int restoreFd) throws HypervisorException {
            enter("libxl_domain_create_restore", null, "name=" + name);
            try {
                while (true) {
                    byte[] b = dev.migrationd.hypervisor.ffm.NativePipe.read(restoreFd, 8192);
                    if (b.length == 0) {
                        break;
                    }
                    restoredStream.write(b);
                    if (restoreFailAfter >= 0 && restoredStream.size() >= restoreFailAfter) {
                        throw new HypervisorException("libxl_domain_create_restore", name, "returned -3 (ERROR_FAIL)");
                    }
                }
            } catch (java.io.IOException e) {
                throw new HypervisorException("libxl_domain_create_restore", name, e.toString());
            }
            Dom d = addPvh(name, 128, 1);
            d.flags |= XenLayouts.XEN_DOMINF_PAUSED;
            return d.domid;
        }

        @Override
        public void close() {
            closed = true;
        }
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
                s.set(JAVA_LONG, XenLayouts.offset(l, "shared_info_frame"), d.sharedInfoMfn);
                s.set(JAVA_LONG, XenLayouts.offset(l, "tot_pages"), Math.max(d.totPages, Math.max(d.pages.size(), d.pfnToMfn.size())));
                s.set(JAVA_LONG, XenLayouts.offset(l, "max_pages"), Math.max(d.maxPages, d.maxMemKb / 4));
                s.set(JAVA_INT, XenLayouts.offset(l, "arch_config", "emulation_flags"), d.emulationFlags);
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
                    throw new NativeCallException("xc_shadow_control", "" + domid, "sop=2", -1, EBUSY, NativeCalls.strerror(EBUSY));
                }
                d.logdirty = true;
                d.dirty.clear();
            } else if (sop == XenLayouts.XEN_DOMCTL_SHADOW_OP_OFF) {
                d.logdirty = false;
            } else {
                throw new NativeCallException("xc_shadow_control", "" + domid, "sop=" + sop, -1, EINVAL, NativeCalls.strerror(EINVAL));
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
                throw new NativeCallException("xc_logdirty_control", "" + domid, "sop=" + sop, -1, EINVAL, NativeCalls.strerror(EINVAL));
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
            byte[] c = dom("xc_vcpu_getcontext", domid).vcpuContexts.get(vcpu);
            if (c == null) {
                throw new NativeCallException("xc_vcpu_getcontext", "" + domid, "vcpu=" + vcpu, -1, EINVAL, NativeCalls.strerror(EINVAL));
            }
            MemorySegment.copy(c, 0, ctx, JAVA_BYTE, 0, c.length);
        }

        @Override
        public void vcpuSetContext(int domid, int vcpu, MemorySegment ctx) throws HypervisorException {
            enter("xc_vcpu_setcontext", domid, "vcpu=" + vcpu);
            dom("xc_vcpu_setcontext", domid).vcpuContexts.put(vcpu, ctx.toArray(JAVA_BYTE));
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
                throw new NativeCallException("xc_domain_hvm_getcontext", "" + domid, "", -1, ENOMEM, NativeCalls.strerror(ENOMEM));
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
            d.emulationFlags = config.get(JAVA_INT, XenLayouts.offset(l, "arch", "emulation_flags"));
            domains.put(d.domid, d);
            if (d.pv()) {
                d.sharedInfoMfn = allocMfn(d.domid);
                java.util.Arrays.fill(machine.get(d.sharedInfoMfn), (byte) 0x33); // Xen's fresh page, to be overwritten by the rules
            }
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
            if (d.pv()) {
                for (long i = 0; i < count; i++) {
                    long pfn = pfns.getAtIndex(JAVA_LONG, i);
                    if (d.pfnToMfn.containsKey(pfn)) {
                        throw new NativeCallException("xc_domain_populate_physmap_exact", "" + domid, "pfn=" + pfn, -1, EBUSY, NativeCalls.strerror(EBUSY));
                    }
                    long mfn = allocMfn(domid);
                    m2p.put(mfn, pfn);
                    d.pfnToMfn.put(pfn, mfn);
                    d.maxGpfn = Math.max(d.maxGpfn, pfn);
                    pfns.setAtIndex(JAVA_LONG, i, mfn); // a PV caller learns the machine frame
                }
                return;
            }
            for (long i = 0; i < count; i++) {
                long pfn = pfns.getAtIndex(JAVA_LONG, i);
                if (d.pages.containsKey(pfn)) {
                    throw new NativeCallException("xc_domain_populate_physmap_exact", "" + domid, "pfn=" + pfn, -1, EBUSY, NativeCalls.strerror(EBUSY));
                }
                d.pages.put(pfn, new byte[4096]);
                d.maxGpfn = Math.max(d.maxGpfn, pfn);
            }
        }

        @Override
        public void domainDecreaseReservationExact(int domid, long count, MemorySegment pfns) throws HypervisorException {
            enter("xc_domain_decrease_reservation_exact", domid, "nr=" + count);
            Dom d = dom("xc_domain_decrease_reservation_exact", domid);
            if (d.pv()) {
                for (long i = 0; i < count; i++) {
                    long mfn = pfns.getAtIndex(JAVA_LONG, i);
                    if (!Integer.valueOf(domid).equals(owner.get(mfn))) {
                        throw new NativeCallException("xc_domain_decrease_reservation_exact", "" + domid, "mfn=" + mfn, -1, EINVAL, NativeCalls.strerror(EINVAL));
                    }
                    Long pfn = m2p.remove(mfn);
                    owner.remove(mfn);
                    machine.remove(mfn);
                    d.pfnToMfn.remove(pfn);
                }
                return;
            }
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
            if (d.pv()) {
                for (int i = 0; i < num; i++) {
                    long mfn = arr.getAtIndex(JAVA_LONG, i);
                    boolean ours = Integer.valueOf(domid).equals(owner.get(mfn));
                    arr.setAtIndex(JAVA_LONG, i, ours ? d.pageTypes.getOrDefault(mfn, 0L) : 0xF000_0000L);
                }
                return;
            }
            for (int i = 0; i < num; i++) {
                long pfn = arr.getAtIndex(JAVA_LONG, i);
                long type = d.broken.contains(pfn) ? 0xD000_0000L : d.pages.containsKey(pfn) ? 0 : 0xF000_0000L;
                arr.setAtIndex(JAVA_LONG, i, type);
            }
        }

        @Override
        public void domctl(MemorySegment dc) throws HypervisorException {
            var l = XenLayouts.XEN_DOMCTL;
            int cmd = dc.get(JAVA_INT, XenLayouts.offset(l, "cmd"));
            int domid = Short.toUnsignedInt(dc.get(JAVA_SHORT, XenLayouts.offset(l, "domain")));
            enter("xc_domctl", domid, "cmd=" + cmd);
            calls.set(calls.size() - 1, "xc_domctl:" + cmd);
            Dom d = dom("xc_domctl", domid);
            long u = XenLayouts.offset(l, "u");
            int vcpu = dc.get(JAVA_INT, u);
            var xs = XenLayouts.XEN_DOMCTL_VCPUEXTSTATE;
            switch (cmd) {
                case XenLayouts.XEN_DOMCTL_GET_EXT_VCPUCONTEXT -> {
                    byte[] ext = d.extContexts.get(vcpu);
                    if (ext == null) {
                        ext = new byte[128];
                        ByteBuffer b = ByteBuffer.wrap(ext).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                        b.putInt(0, vcpu).putInt(4, 64).putLong(8, 0xFFFF_8000_0000_1000L + vcpu).putShort(24, (short) 0xe033);
                    }
                    MemorySegment.copy(ext, 0, dc, JAVA_BYTE, u, 128);
                }
                case XenLayouts.XEN_DOMCTL_SET_EXT_VCPUCONTEXT -> d.extContexts.put(vcpu, dc.asSlice(u, 128).toArray(JAVA_BYTE));
                case XenLayouts.XEN_DOMCTL_GETVCPUEXTSTATE -> {
                    byte[] area = d.xsave.get(vcpu);
                    long size = dc.get(JAVA_LONG, u + XenLayouts.offset(xs, "size"));
                    if (size == 0) {
                        dc.set(JAVA_LONG, u + XenLayouts.offset(xs, "xfeature_mask"), area == null ? 0 : d.xfeatureMask);
                        dc.set(JAVA_LONG, u + XenLayouts.offset(xs, "size"), area == null ? 0 : area.length);
                    } else {
                        long addr = dc.get(JAVA_LONG, u + XenLayouts.offset(xs, "buffer"));
                        MemorySegment.copy(area, 0, MemorySegment.ofAddress(addr).reinterpret(size), JAVA_BYTE, 0, area.length);
                        dc.set(JAVA_LONG, u + XenLayouts.offset(xs, "size"), area.length);
                    }
                }
                case XenLayouts.XEN_DOMCTL_SETVCPUEXTSTATE -> {
                    long size = dc.get(JAVA_LONG, u + XenLayouts.offset(xs, "size"));
                    long addr = dc.get(JAVA_LONG, u + XenLayouts.offset(xs, "buffer"));
                    d.xsave.put(vcpu, MemorySegment.ofAddress(addr).reinterpret(size).toArray(JAVA_BYTE));
                }
                case XenLayouts.XEN_DOMCTL_SET_ADDRESS_SIZE -> {
                    d.addressSizeBits = dc.get(JAVA_INT, u);
                    d.guestWidth = d.addressSizeBits / 8;
                }
                default -> throw new NativeCallException("xc_domctl", "" + domid, "cmd=" + cmd, -1, EINVAL, NativeCalls.strerror(EINVAL));
            }
        }

        @Override
        public long maximumRamPage() throws HypervisorException {
            enter("xc_maximum_ram_page", null, "");
            return maxMfn;
        }

        @Override
        public void machphysMfnList(long maxExtents, MemorySegment extentStart) throws HypervisorException {
            enter("xc_machphys_mfn_list", null, "max_extents=" + maxExtents);
            if (maxExtents != m2pChunks()) {
                throw new NativeCallException("xc_machphys_mfn_list", null, "", -1, EINVAL, NativeCalls.strerror(EINVAL));
            }
            for (long c = 0; c < maxExtents; c++) {
                extentStart.setAtIndex(JAVA_LONG, c, m2pChunkBase + c * 512);
            }
        }

        @Override
        public long memoryOp(int cmd, MemorySegment arg) throws HypervisorException {
            enter("xc_memory_op", null, "cmd=" + cmd);
            var l = XenLayouts.XEN_MACHPHYS_MFN_LIST;
            if (cmd != XenLayouts.XENMEM_MACHPHYS_COMPAT_MFN_LIST || arg.get(JAVA_INT, XenLayouts.offset(l, "max_extents")) < 1) {
                throw new NativeCallException("xc_memory_op", null, "cmd=" + cmd, -1, EINVAL, NativeCalls.strerror(EINVAL));
            }
            MemorySegment out = arg.get(java.lang.foreign.ValueLayout.ADDRESS, XenLayouts.offset(l, "extent_start")).reinterpret(8);
            out.set(JAVA_LONG, 0, compatM2pMfn0);
            arg.set(JAVA_INT, XenLayouts.offset(l, "nr_extents"), 1);
            return 0;
        }

        @Override
        public void mmuextOp(int domid, MemorySegment ops, int count) throws HypervisorException {
            enter("xc_mmuext_op", domid, "nr_ops=" + count);
            Dom d = dom("xc_mmuext_op", domid);
            var l = XenLayouts.MMUEXT_OP;
            if (count < 1 || count > 1024 || ops.byteSize() < count * l.byteSize()) {
                throw new IllegalStateException("mmuext batch of " + count);
            }
            d.pinBatchSizes.add(count);
            for (int i = 0; i < count; i++) {
                int cmd = ops.get(JAVA_INT, i * l.byteSize());
                long mfn = ops.get(JAVA_LONG, i * l.byteSize() + 8);
                boolean ours = Integer.valueOf(domid).equals(owner.get(mfn));
                if (!ours || cmd < 0 || cmd > 3 || !validTable(domid, machine.get(mfn))) {
                    throw new NativeCallException("xc_mmuext_op", "" + domid, "mfn=" + mfn, -1, EINVAL, NativeCalls.strerror(EINVAL));
                }
                d.pageTypes.put(mfn, (long) (0x8 | (cmd + 1)) << 28);
                d.pins.add(new long[] {cmd, mfn});
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
            Dom d = domid == XenLayouts.DOMID_XEN ? null : dom("xenforeignmemory_map", domid);
            if (pages < 1 || pages > 1024) {
                throw new IllegalStateException("the adapter must map 1..1024 pages per call, not " + pages);
            }
            MemorySegment region = arena.allocate(pages * 4096, 4096);
            if (domid == XenLayouts.DOMID_XEN || d.pv()) {
                for (long i = 0; i < pages; i++) {
                    long mfn = pfns.getAtIndex(JAVA_LONG, i);
                    byte[] page = domid == XenLayouts.DOMID_XEN ? m2pPage(mfn)
                            : Integer.valueOf(domid).equals(owner.get(mfn)) ? machine.get(mfn) : null;
                    if (page == null || mapErrors.contains(mfn)) {
                        errs.setAtIndex(JAVA_INT, i, -EINVAL);
                    } else {
                        errs.setAtIndex(JAVA_INT, i, 0);
                        MemorySegment.copy(page, 0, region, JAVA_BYTE, i * 4096, 4096);
                    }
                }
                liveMappings.put(region, domid | ((long) prot << 32));
                mappedPfns.put(region, pfns.asSlice(0, pages * 8).toArray(JAVA_LONG));
                return region;
            }
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
            if ((prot & XenLayouts.PROT_WRITE) != 0 && d != null && d.pv()) {
                for (int i = 0; i < pfns.length; i++) {
                    if (Integer.valueOf(domid).equals(owner.get(pfns[i]))) {
                        machine.put(pfns[i], region.asSlice(i * 4096L, 4096).toArray(JAVA_BYTE));
                    }
                }
                return;
            }
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

    /** Xen's validation of a table, as far as the fake goes: every present entry maps a frame of the domain. */
    private boolean validTable(int domid, byte[] table) {
        ByteBuffer b = ByteBuffer.wrap(table).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 512; i++) {
            long pte = b.getLong(i * 8);
            if ((pte & 1) != 0 && !Integer.valueOf(domid).equals(owner.get((pte & 0x000F_FFFF_FFFF_F000L) >>> 12))) {
                return false;
            }
        }
        return true;
    }

    /** A page of Xen's M2P, or null when {@code mfn} is not one of its frames. */
    private byte[] m2pPage(long mfn) {
        long rel = mfn - m2pChunkBase;
        if (rel < 0 || rel >= m2pChunks() * 512) {
            return null;
        }
        byte[] page = new byte[4096];
        ByteBuffer b = ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long first = rel * 512; // chunk c page k holds entries c*262144 + k*512 .. +511, i.e. rel*512
        for (int j = 0; j < 512; j++) {
            b.putLong(j * 8, m2p.getOrDefault(first + j, -1L));
        }
        return page;
    }

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
