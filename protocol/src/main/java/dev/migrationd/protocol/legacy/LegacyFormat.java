package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.Width;

/**
 * Every constant of the Xen legacy libxc save stream (Xen 4.0–4.5), named as Xen names them
 * ({@code xg_save_restore.h}, {@code xc_domain_save.c}, {@code xc_compression.c}), so a grep works across C,
 * Python and Java. {@code docs/wire-format-legacy.md} describes the stream as this project implements it; the
 * section numbers below refer to it.
 *
 * <p>All integers are little-endian. {@code ulong} is the saving toolstack's {@code unsigned long}: W = 4 or 8
 * bytes ({@link Width}). Nothing is padded unless drawn.
 *
 * <pre>
 * Stream (§1):   HEADER  { BODY TAIL }+           (one checkpoint, or repeated for Remus)
 *
 * HEADER, HVM:   +0  ulong p2m_size
 * HEADER, PV:    +0  ulong p2m_size
 *                +W  ulong signature = ~0                      (extended info, §3.1)
 *                +2W u32   total                               bytes of blocks that follow
 *                    { char[4] id; u32 size; u8 data[size] }*  "vcpu" (0x1430|0xAF0), "extv" (0), ["xcnt" (4)]
 *                    ulong p2m_frame[ceil(p2m_size / (4096/GW))]   (§3.2)
 *
 * BODY (§4):     { i32 chunk; payload }* then i32 0
 *   chunk 1..1024 (page batch, §5):
 *                +0  i32   count
 *                +4  ulong pfn_entry[count]          bits 31..28 type, 27..0 PFN; XTAB written as 0xF0000000
 *                    u8    page[n_data][4096]         one per entry whose type is not BROKEN/XALLOC/XTAB
 *                    (Format B after ENABLE_COMPRESSION: no page data, §11)
 *   chunk −1..−20 (§6):
 *     −1  ENABLE_VERIFY_MODE   (nothing)
 *     −2  VCPU_INFO            i32 max_vcpu_id; u64 vcpumap[max_vcpu_id/64 + 1]
 *     −3,−4,−8,−10,−11,−14..−17,−19,−20  HVM params: u32 pad (0); u64 value        16 bytes with the id
 *     −5  TMEM                 u32 version, max_pools, 0xFFFFFFFF, client_flags, weight, cap, 0xFFFFFFFF;
 *                              { u32 pool_id; u32 flags; u32 n_pages; u64 uuid[2];
 *                                { u64 oid[3]; u32 index; u8 data[1 &lt;&lt; (((flags&gt;&gt;4)&amp;0xF)+12)] }* [u64
 * oid[3] = ~0] }*                              u32 0xFFFFFFFF
 *     −6  TMEM_EXTRA           { u32 pool_id; u64 oid[3]; u32 index }*  u32 0xFFFFFFFF
 *     −7  TSC_INFO             u32 tsc_mode; u64 nsec; u32 khz; u32 incarnation          24 bytes with the id
 *     −9  LAST_CHECKPOINT      (nothing)
 *     −12 COMPRESSED_DATA      ulong len (W bytes); u8 data[len]
 *     −13 ENABLE_COMPRESSION   (nothing)
 *     −18 TOOLSTACK            u32 len; u8 data[len]
 *
 * PV TAIL (§7.1): u32 nr_unmapped; ulong unmapped_pfn[nr_unmapped];
 *                 per online vcpu (ascending): u8 ctx[0x1430|0xAF0]; [u8 ext[128]];
 *                                             [u64 xfeature_mask; u64 size = xsave_len−16; u8 area[size]]
 *                 u8 shared_info[4096]
 * HVM TAIL (§7.2): u64 ioreq_pfn; u64 bufioreq_pfn; u64 store_pfn; u32 hvm_ctx_len; u8 hvm_ctx[hvm_ctx_len];
 *                 char[21] sig: "DeviceModelRecord0002" | "RemusDeviceModelState" → u32 len; u8 state[len]
 *                               "QemuDeviceModelRecord" → state to end of stream
 * </pre>
 */
public final class LegacyFormat {
    private LegacyFormat() {
    }

    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;
    /** Largest page batch. */
    public static final int MAX_BATCH_SIZE = 1024;
    /** Pin batches of the receiver (no wire effect). */
    public static final int MAX_PIN_BATCH = 1024;
    /** Largest vCPU count (Xen 4.2+); max_vcpu_id ≤ 4095. */
    public static final int XC_SR_MAX_VCPUS = 4096;
    /** p2m_size must be at most this (the sender refuses larger guests with E2BIG). */
    public static final long MAX_P2M_SIZE = 0x0FFF_FFFFL;
    public static final int DEF_MAX_ITERS = 29;
    public static final int DEF_MAX_FACTOR = 3;
    public static final int HEARTBEAT_MS = 1000;

    // ---- chunk ids (§6) ----
    public static final int XC_SAVE_ID_ENABLE_VERIFY_MODE = -1;
    public static final int XC_SAVE_ID_VCPU_INFO = -2;
    public static final int XC_SAVE_ID_HVM_IDENT_PT = -3;
    public static final int XC_SAVE_ID_HVM_VM86_TSS = -4;
    public static final int XC_SAVE_ID_TMEM = -5;
    public static final int XC_SAVE_ID_TMEM_EXTRA = -6;
    public static final int XC_SAVE_ID_TSC_INFO = -7;
    public static final int XC_SAVE_ID_HVM_CONSOLE_PFN = -8;
    public static final int XC_SAVE_ID_LAST_CHECKPOINT = -9;
    public static final int XC_SAVE_ID_HVM_ACPI_IOPORTS_LOCATION = -10;
    public static final int XC_SAVE_ID_HVM_VIRIDIAN = -11;
    public static final int XC_SAVE_ID_COMPRESSED_DATA = -12;
    public static final int XC_SAVE_ID_ENABLE_COMPRESSION = -13;
    public static final int XC_SAVE_ID_HVM_GENERATION_ID_ADDR = -14;
    public static final int XC_SAVE_ID_HVM_PAGING_RING_PFN = -15;
    public static final int XC_SAVE_ID_HVM_ACCESS_RING_PFN = -16;
    public static final int XC_SAVE_ID_HVM_SHARING_RING_PFN = -17;
    public static final int XC_SAVE_ID_TOOLSTACK = -18;
    public static final int XC_SAVE_ID_HVM_IOREQ_SERVER_PFN = -19;
    public static final int XC_SAVE_ID_HVM_NR_IOREQ_SERVER_PAGES = -20;
    /** The end-of-body marker. */
    public static final int END_OF_BODY = 0;

    // ---- PFN entry (§5.1): XEN_DOMCTL_PFINFO_* ----
    public static final int XEN_DOMCTL_PFINFO_LTAB_SHIFT = 28;
    public static final int XEN_DOMCTL_PFINFO_LTAB_MASK = 0xF000_0000;
    public static final int XEN_DOMCTL_PFINFO_LTABTYPE_MASK = 0x7000_0000;
    public static final int XEN_DOMCTL_PFINFO_NOTAB = 0x0000_0000;
    public static final int XEN_DOMCTL_PFINFO_L1TAB = 0x1000_0000;
    public static final int XEN_DOMCTL_PFINFO_L2TAB = 0x2000_0000;
    public static final int XEN_DOMCTL_PFINFO_L3TAB = 0x3000_0000;
    public static final int XEN_DOMCTL_PFINFO_L4TAB = 0x4000_0000;
    public static final int XEN_DOMCTL_PFINFO_LPINTAB = 0x8000_0000;
    public static final int XEN_DOMCTL_PFINFO_BROKEN = 0xD000_0000;
    public static final int XEN_DOMCTL_PFINFO_XALLOC = 0xE000_0000;
    public static final int XEN_DOMCTL_PFINFO_XTAB = 0xF000_0000;
    /** The PFN field of an entry (bits 27..0). */
    public static final int PFN_MASK = 0x0FFF_FFFF;

    // ---- extended info (§3.1) ----
    /** {@code "vcpu"} block id, as the little-endian u32 of its 4 ASCII bytes. */
    public static final int EXT_BLOCK_VCPU = 0x75706376;
    public static final int EXT_BLOCK_EXTV = 0x76747865;
    public static final int EXT_BLOCK_XCNT = 0x746e6378;
    /** Size of one block header (char[4] id + u32 size). */
    public static final int EXT_BLOCK_HEADER = 8;
    /** {@code sizeof(vcpu_guest_context)} of a 64-bit guest. */
    public static final int VCPU_CONTEXT_SIZE_X86_64 = 0x1430;
    /** {@code sizeof(vcpu_guest_context)} of a 32-bit PAE guest. */
    public static final int VCPU_CONTEXT_SIZE_X86_32 = 0xAF0;
    /** The extended vcpu context in the PV tail (the domctl union). */
    public static final int EXT_VCPU_CONTEXT_SIZE = 128;
    /** XSAVE record header in the PV tail: u64 xfeature_mask, u64 size. */
    public static final int XSAVE_RECORD_HEADER = 16;
    /** The shared-info page at the end of the PV tail. */
    public static final int SHARED_INFO_SIZE = 4096;

    // ---- chunk payload sizes (after the 4-byte id) ----
    public static final int HVM_PARAM_PAYLOAD = 12;
    public static final int TSC_INFO_PAYLOAD = 20;
    public static final int TMEM_HEADER_PAYLOAD = 28;
    /** TMEM oid, Xen ≥ 4.1 (u64[3]). */
    public static final int TMEM_OID_SIZE = 24;
    /** TMEM pool header after the pool id: u32 flags, u32 n_pages, u64 uuid[2]. */
    public static final int TMEM_POOL_HEADER = 24;
    /** One TMEM_EXTRA record: u32 pool_id, u64 oid[3], u32 index. */
    public static final int TMEM_EXTRA_RECORD = 32;
    public static final int TMEM_END = 0xFFFF_FFFF;
    public static final int TMEM_POOL_PERSIST = 1;

    // ---- HVM tail (§7.2) ----
    /** u64 ioreq_pfn, bufioreq_pfn, store_pfn. */
    public static final int HVM_MAGIC_PFNS_SIZE = 24;
    public static final int QEMU_SIGNATURE_SIZE = 21;
    /** QEMU savevm magic that a {@code QemuDeviceModelRecord} state must start with. */
    public static final int QEMU_VM_FILE_MAGIC = 0x5145564d; // "QEVM" big-endian

    // ---- checkpoint compression (§11, xc_compression.c) ----
    /** Pages in the sender's delta cache ({@code DELTA_CACHE_SIZE} = 32 MiB). */
    public static final int DELTA_CACHE_PAGES = 8192;
    /** Pages in the sender's input buffer ({@code PAGE_BUFFER_SIZE} = 32 MiB). */
    public static final int PAGE_BUFFER_PAGES = 8192;
    public static final int EMPTY_PAGE = 0x00;
    public static final int FULL_PAGE = 0x80;
    public static final int RUNFLAG = 0x00;
    public static final int SKIPFLAG = 0x80;
    public static final int FLAGMASK = 0x80;
    public static final int LENMASK = 0x7F;
    /** {@code FULL_PAGE_SIZE}: marker + page. */
    public static final int FULL_PAGE_SIZE = PAGE_SIZE + 1;
    /** {@code WORST_COMP_PAGE_SIZE}: 8 runs of 127 words + 1 of 8 words + 9 markers. */
    public static final int WORST_COMP_PAGE_SIZE = PAGE_SIZE + 9;

    // ---- libxl TOOLSTACK blob (§6.9) ----
    public static final int TOOLSTACK_VERSION = 1;

    /** Bytes of the PFN array of a batch of {@code count} entries. */
    public static int pfnArrayBytes(Width w, int count) {
        return count * w.bytes();
    }

    /** The vcpu_guest_context size for a guest width. */
    public static int vcpuContextSize(Width guestWidth) {
        return guestWidth == Width.W64 ? VCPU_CONTEXT_SIZE_X86_64 : VCPU_CONTEXT_SIZE_X86_32;
    }

    /** Entries of the p2m frame list: ceil(p2m_size / (4096 / GW)). */
    public static long p2mFrameCount(long p2mSize, Width guestWidth) {
        long fpp = PAGE_SIZE / guestWidth.bytes();
        return (p2mSize + fpp - 1) / fpp;
    }

    /** Checks a p2m_size for a header item: 1 … {@link #MAX_P2M_SIZE}. */
    static void checkP2mSize(long p2mSize) {
        if (p2mSize < 1 || p2mSize > MAX_P2M_SIZE) {
            throw new IllegalArgumentException("p2m_size must be in 1..0x0FFFFFFF: 0x" + Long.toHexString(p2mSize));
        }
    }

    /** Whether a PFN entry is followed by a page: type ∉ {BROKEN, XALLOC, XTAB}. */
    public static boolean hasData(int entry) {
        return Integer.compareUnsigned(entry & XEN_DOMCTL_PFINFO_LTAB_MASK, XEN_DOMCTL_PFINFO_BROKEN) < 0;
    }

    /**
     * Whether the type nibble of an entry is not a type (0x5–0x8). The reader takes 0x8, the pin bit on a plain
     * page, as a plain page, as libxc's restore does; it refuses 0x5–0x7.
     */
    public static boolean isInvalidType(int entry) {
        int t = entry >>> XEN_DOMCTL_PFINFO_LTAB_SHIFT;
        return t >= 5 && t <= 8;
    }

    /** Whether an entry is a page table (L1–L4, pinned or not). */
    public static boolean isPageTable(int entry) {
        int t = entry >>> XEN_DOMCTL_PFINFO_LTAB_SHIFT;
        return (t & 7) != 0 && t < 0xD && !isInvalidType(entry);
    }
}
