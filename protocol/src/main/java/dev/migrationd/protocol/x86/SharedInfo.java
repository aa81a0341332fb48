package dev.migrationd.protocol.x86;

import dev.migrationd.protocol.Width;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The 4096-byte PV shared-info page at the end of a legacy PV tail and in a v2 {@code SHARED_INFO}
 * record (docs/wire-format-legacy.md §8.3). Offsets for both guest widths; {@code vcpu_info} is 64 bytes for both.
 *
 * <pre>
 *  GW=8                                          GW=4
 *     0 vcpu_info[32] × 64                          0 vcpu_info[32] × 64
 *  2048 u64 evtchn_pending[64]                   2048 u32 evtchn_pending[32]
 *  2560 u64 evtchn_mask[64]                      2176 u32 evtchn_mask[32]
 *  3072 u32 wc_version, wc_sec, wc_nsec          2304 u32 wc_version, wc_sec, wc_nsec
 *  3088 arch: u64 max_pfn,                       2316 arch: u32 max_pfn,
 *       pfn_to_mfn_frame_list_list, nmi_reason        pfn_to_mfn_frame_list_list, nmi_reason
 * </pre>
 *
 * vcpu_info: u8 evtchn_upcall_pending at 0, u8 evtchn_upcall_mask at 1, evtchn_pending_sel (word) at
 * 4 (GW=4) or 8 (GW=8). The sender zeroes {@code pfn_to_mfn_frame_list_list}; the receiver keeps only
 * {@code vcpu_info[]} and {@code arch}, clears pending bits and sets every mask bit.
 */
public final class SharedInfo {
    public static final int SIZE = 4096;
    /** {@code XEN_LEGACY_MAX_VCPUS}. */
    public static final int LEGACY_MAX_VCPUS = 32;
    public static final int VCPU_INFO = 0;
    public static final int VCPU_INFO_SIZE = 64;
    public static final int VCPU_INFO_UPCALL_PENDING = 0;
    public static final int VCPU_INFO_UPCALL_MASK = 1;

    /** Offsets for a 64-bit guest. */
    public static final class X64 {
        public static final int VCPU_INFO_PENDING_SEL = 8;
        public static final int EVTCHN_PENDING = 2048;
        public static final int EVTCHN_MASK = 2560;
        public static final int EVTCHN_WORDS = 64;
        public static final int WC_VERSION = 3072;
        public static final int WC_SEC = 3076;
        public static final int WC_NSEC = 3080;
        public static final int ARCH = 3088;
        public static final int ARCH_MAX_PFN = 3088;
        public static final int ARCH_PFN_TO_MFN_FRAME_LIST_LIST = 3096;
        public static final int ARCH_NMI_REASON = 3104;

        private X64() {
        }
    }

    /** Offsets for a 32-bit guest. */
    public static final class X32 {
        public static final int VCPU_INFO_PENDING_SEL = 4;
        public static final int EVTCHN_PENDING = 2048;
        public static final int EVTCHN_MASK = 2176;
        public static final int EVTCHN_WORDS = 32;
        public static final int WC_VERSION = 2304;
        public static final int WC_SEC = 2308;
        public static final int WC_NSEC = 2312;
        public static final int ARCH = 2316;
        public static final int ARCH_MAX_PFN = 2316;
        public static final int ARCH_PFN_TO_MFN_FRAME_LIST_LIST = 2320;
        public static final int ARCH_NMI_REASON = 2324;

        private X32() {
        }
    }

    private final Width gw;
    private final MemorySegment seg;

    private SharedInfo(Width gw, MemorySegment seg) {
        if (seg.byteSize() != SIZE) {
            throw new IllegalArgumentException("a shared-info page is " + SIZE + " bytes, not " + seg.byteSize());
        }
        this.gw = Objects.requireNonNull(gw);
        this.seg = seg;
    }

    public static SharedInfo wrap(Width guestWidth, MemorySegment seg) {
        return new SharedInfo(guestWidth, seg);
    }

    public static SharedInfo wrap(Width guestWidth, byte[] page) {
        return new SharedInfo(guestWidth, MemorySegment.ofArray(page));
    }

    /**
     * The page as a saved guest leaves it: every event channel masked, nothing pending, each of the
     * first {@code vcpus} (≤ 32) vcpu_info with upcalls masked, {@code arch.max_pfn} = {@code maxPfn},
     * frame-list-list zeroed (as the sender does), wallclock version 2 (even: not being updated).
     */
    public static SharedInfo savedState(Width guestWidth, int vcpus, long maxPfn) {
        SharedInfo s = wrap(guestWidth, new byte[SIZE]);
        int n = Math.min(Objects.checkIndex(vcpus, LEGACY_MAX_VCPUS + 1), LEGACY_MAX_VCPUS);
        for (int v = 0; v < n; v++) {
            Le.putU8(s.seg, VCPU_INFO + (long) v * VCPU_INFO_SIZE + VCPU_INFO_UPCALL_MASK, 1);
        }
        boolean w64 = guestWidth == Width.W64;
        int mask = w64 ? X64.EVTCHN_MASK : X32.EVTCHN_MASK;
        int words = w64 ? X64.EVTCHN_WORDS : X32.EVTCHN_WORDS;
        s.seg.asSlice(mask, (long) words * guestWidth.bytes()).fill((byte) 0xFF);
        Le.putU32(s.seg, w64 ? X64.WC_VERSION : X32.WC_VERSION, 2);
        s.setMaxPfn(maxPfn);
        return s;
    }

    public Width guestWidth() {
        return gw;
    }

    public MemorySegment segment() {
        return seg;
    }

    public byte[] toByteArray() {
        return seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private long word(int off) {
        return gw == Width.W64 ? Le.u64(seg, off) : Le.u32(seg, off);
    }

    private void putWord(int off, long v) {
        if (gw == Width.W64) {
            Le.putU64(seg, off, v);
        } else {
            Le.putU32(seg, off, v);
        }
    }

    public long maxPfn() {
        return word(gw == Width.W64 ? X64.ARCH_MAX_PFN : X32.ARCH_MAX_PFN);
    }

    public void setMaxPfn(long v) {
        putWord(gw == Width.W64 ? X64.ARCH_MAX_PFN : X32.ARCH_MAX_PFN, v);
    }

    public long pfnToMfnFrameListList() {
        return word(gw == Width.W64 ? X64.ARCH_PFN_TO_MFN_FRAME_LIST_LIST : X32.ARCH_PFN_TO_MFN_FRAME_LIST_LIST);
    }

    /** {@code evtchn_upcall_mask} of {@code vcpu_info[vcpu]}. */
    public int upcallMask(int vcpu) {
        return Le.u8(seg, VCPU_INFO + (long) Objects.checkIndex(vcpu, LEGACY_MAX_VCPUS) * VCPU_INFO_SIZE
                + VCPU_INFO_UPCALL_MASK);
    }

    /** Word {@code i} of {@code evtchn_mask}. */
    public long evtchnMaskWord(int i) {
        boolean w64 = gw == Width.W64;
        int words = w64 ? X64.EVTCHN_WORDS : X32.EVTCHN_WORDS;
        return word((w64 ? X64.EVTCHN_MASK : X32.EVTCHN_MASK) + Objects.checkIndex(i, words) * gw.bytes());
    }
}
