package dev.migrationd.protocol.v2;

/**
 * Every constant of the v2 migration stream in one place, named as Xen names them
 * ({@code xg_sr_stream_format.h}, {@code libxl_sr_stream_format.h}, {@code xen/migration/libxc.py}),
 * so a grep works across C, Python and Java. Spec: {@code docs/wire-format-v2.md}.
 *
 * <h2>libxc image header (24 octets, big-endian)</h2>
 * <pre>
 *  0               8       12      16  18  20      24
 * +---------------+-------+-------+---+---+-------+
 * | marker ~0     | "XENF"| vers  |opt|rsv| rsv   |
 * +---------------+-------+-------+---+---+-------+
 * </pre>
 *
 * <h2>libxc domain header (16 octets, stream endianness)</h2>
 * <pre>
 *  0       4   6   8       12      16
 * +-------+---+---+-------+-------+
 * | type  |psh|rsv| major | minor |
 * +-------+---+---+-------+-------+
 * </pre>
 *
 * <h2>Record (libxc and libxl)</h2>
 * <pre>
 *  0       4       8                      8+len        8+len+pad
 * +-------+-------+----------------------+------------+
 * | type  | len   | body[len]            | 0-pad to 8 |
 * +-------+-------+----------------------+------------+
 * </pre>
 *
 * <h2>libxl header (16 octets, big-endian)</h2>
 * <pre>
 *  0               8       12      16
 * +---------------+-------+-------+
 * | "LibxlFmt"    | vers 2| opts  |
 * +---------------+-------+-------+
 * </pre>
 */
public final class V2Format {
    private V2Format() {
    }

    /** {@code IHDR_MARKER}: the first 8 octets of a v2 image (a legacy image has a zero bit there). */
    public static final long IHDR_MARKER = 0xFFFF_FFFF_FFFF_FFFFL;
    /** {@code IHDR_ID}: "XENF". */
    public static final int IHDR_ID = 0x5845_4E46;
    /** Image version written by Xen 4.6–4.13. */
    public static final int IHDR_VERSION_2 = 2;
    /** Image version written by Xen 4.14+ and by {@code convert-legacy-stream}. */
    public static final int IHDR_VERSION_3 = 3;
    /** {@code IHDR_OPT_BIG_ENDIAN}: options bit 0. */
    public static final int IHDR_OPT_BIG_ENDIAN = 0x0001;
    /** Options bits 1–15 are reserved. */
    public static final int IHDR_OPT_RESZ_MASK = 0xFFFE;
    public static final int IHDR_SIZE = 24;

    /** {@code DHDR_TYPE_X86_PV}. */
    public static final int DHDR_TYPE_X86_PV = 1;
    /** {@code DHDR_TYPE_X86_HVM} (PVH guests too). */
    public static final int DHDR_TYPE_X86_HVM = 2;
    public static final int DHDR_SIZE = 16;
    /** {@code XC_PAGE_SHIFT}: the only page shift the x86 streams carry. */
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;

    /** Record header: u32 type, u32 length. */
    public static final int RH_SIZE = 8;
    /** {@code REC_ALIGN_ORDER}: records are padded to 1 &lt;&lt; 3 octets. */
    public static final int REC_ALIGN_ORDER = 3;
    public static final int REC_ALIGN = 1 << REC_ALIGN_ORDER;
    /** {@code REC_TYPE_OPTIONAL}: type bit 31, a reader may skip an unknown optional record. */
    public static final int REC_TYPE_OPTIONAL = 0x8000_0000;

    /** PAGE_DATA: u32 count, u32 reserved before the PFN array. */
    public static final int PAGE_DATA_HEADER_SIZE = 8;
    /** {@code PAGE_DATA_PFN_MASK}: bits 51..0. */
    public static final long PAGE_DATA_PFN_MASK = (1L << 52) - 1;
    /** {@code PAGE_DATA_PFN_RESZ_MASK}: bits 59..52 reserved. */
    public static final long PAGE_DATA_PFN_RESZ_MASK = ((1L << 60) - 1) & ~PAGE_DATA_PFN_MASK;
    /** {@code PAGE_DATA_TYPE_SHIFT}: the type nibble sits in bits 63..60. */
    public static final int PAGE_DATA_TYPE_SHIFT = 60;

    /** X86_PV_INFO body: u8 guest_width, u8 pt_levels, u16 res, u32 res. */
    public static final int X86_PV_INFO_SIZE = 8;
    /** X86_TSC_INFO body: u32 mode, u32 khz, u64 nsec, u32 incarnation, u32 res. */
    public static final int X86_TSC_INFO_SIZE = 24;
    /** SHARED_INFO body: one page. */
    public static final int SHARED_INFO_SIZE = PAGE_SIZE;
    /** vCPU records and P2M frames, HVM_PARAMS, emulator records: an 8-octet prefix. */
    public static final int X86_PV_VCPU_HDR_SIZE = 8;
    public static final int HVM_PARAMS_HDR_SIZE = 8;
    public static final int HVM_PARAMS_ENTRY_SIZE = 16;
    public static final int X86_PV_P2M_FRAMES_HDR_SIZE = 8;
    /** {@code vcpu_guest_context} of a 64-bit PV guest. */
    public static final int VCPU_CONTEXT_SIZE_64 = 0x1430;
    /** {@code vcpu_guest_context} of a 32-bit PAE PV guest. */
    public static final int VCPU_CONTEXT_SIZE_32 = 0xAF0;
    /** The legacy 128-octet {@code xen_domctl_ext_vcpucontext} union, the largest EXTENDED body. */
    public static final int VCPU_EXTENDED_MAX = 128;
    /** X86_PV_VCPU_MSRS entry: u32 index, u32 reserved, u64 value. */
    public static final int VCPU_MSR_ENTRY_SIZE = 16;
    /** {@code xen_cpuid_leaf_t}: six u32. */
    public static final int X86_CPUID_POLICY_ENTRY_SIZE = 24;
    /** {@code xen_msr_entry_t}: u32 idx, u32 flags, u64 val. */
    public static final int X86_MSR_POLICY_ENTRY_SIZE = 16;

    /** {@code RESTORE_STREAM_IDENT}: "LibxlFmt". */
    public static final long LIBXL_IDENT = 0x4C69_6278_6C46_6D74L;
    /** {@code RESTORE_STREAM_VERSION}. */
    public static final int LIBXL_VERSION = 2;
    public static final int LIBXL_HDR_SIZE = 16;
    /** libxl header options bit 0: big-endian. */
    public static final int LIBXL_OPT_BIG_ENDIAN = 0x1;
    /** libxl header options bit 1: produced by the legacy converter. */
    public static final int LIBXL_OPT_LEGACY = 0x2;
    /** libxl options bits 2–31 reserved. */
    public static final int LIBXL_OPT_RESZ_MASK = ~0x3;
    /** EMULATOR_* records: u32 emulator_id, u32 index. */
    public static final int EMULATOR_HDR_SIZE = 8;
    /** {@code EMULATOR_UNKNOWN} (legacy-converted). */
    public static final int EMULATOR_UNKNOWN = 0;
    /** {@code EMULATOR_QEMU_TRADITIONAL}. */
    public static final int EMULATOR_QEMU_TRADITIONAL = 1;
    /** {@code EMULATOR_QEMU_UPSTREAM}. */
    public static final int EMULATOR_QEMU_UPSTREAM = 2;
    /** CHECKPOINT_STATE body: u32 control_id, u32 padding. */
    public static final int CHECKPOINT_STATE_SIZE = 8;

    /** Padding after a body of {@code length} octets. */
    public static int padding(long length) {
        return (int) ((REC_ALIGN - (length & (REC_ALIGN - 1))) & (REC_ALIGN - 1));
    }

    /** Domain header type code of a guest type. */
    public static int domainType(dev.migrationd.protocol.GuestType guest) {
        return switch (guest) {
            case PV -> DHDR_TYPE_X86_PV;
            case HVM -> DHDR_TYPE_X86_HVM;
        };
    }
}
