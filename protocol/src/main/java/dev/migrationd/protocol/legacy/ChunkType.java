package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.x86.HvmParamIndex;
import java.util.List;

/**
 * The metadata chunk ids {@code XC_SAVE_ID_*} of the legacy body (docs/wire-format-legacy.md §6), −1 … −20.
 * Page batches (1…1024) and the end-of-body marker (0) are not chunk types.
 */
public enum ChunkType {
    ENABLE_VERIFY_MODE(LegacyFormat.XC_SAVE_ID_ENABLE_VERIFY_MODE),
    VCPU_INFO(LegacyFormat.XC_SAVE_ID_VCPU_INFO),
    HVM_IDENT_PT(LegacyFormat.XC_SAVE_ID_HVM_IDENT_PT, HvmParamIndex.HVM_PARAM_IDENT_PT),
    HVM_VM86_TSS(LegacyFormat.XC_SAVE_ID_HVM_VM86_TSS, HvmParamIndex.HVM_PARAM_VM86_TSS),
    TMEM(LegacyFormat.XC_SAVE_ID_TMEM),
    TMEM_EXTRA(LegacyFormat.XC_SAVE_ID_TMEM_EXTRA),
    TSC_INFO(LegacyFormat.XC_SAVE_ID_TSC_INFO),
    HVM_CONSOLE_PFN(LegacyFormat.XC_SAVE_ID_HVM_CONSOLE_PFN, HvmParamIndex.HVM_PARAM_CONSOLE_PFN),
    LAST_CHECKPOINT(LegacyFormat.XC_SAVE_ID_LAST_CHECKPOINT),
    HVM_ACPI_IOPORTS_LOCATION(LegacyFormat.XC_SAVE_ID_HVM_ACPI_IOPORTS_LOCATION, HvmParamIndex.HVM_PARAM_ACPI_IOPORTS_LOCATION),
    HVM_VIRIDIAN(LegacyFormat.XC_SAVE_ID_HVM_VIRIDIAN, HvmParamIndex.HVM_PARAM_VIRIDIAN),
    COMPRESSED_DATA(LegacyFormat.XC_SAVE_ID_COMPRESSED_DATA),
    ENABLE_COMPRESSION(LegacyFormat.XC_SAVE_ID_ENABLE_COMPRESSION),
    HVM_GENERATION_ID_ADDR(LegacyFormat.XC_SAVE_ID_HVM_GENERATION_ID_ADDR, HvmParamIndex.HVM_PARAM_VM_GENERATION_ID_ADDR),
    HVM_PAGING_RING_PFN(LegacyFormat.XC_SAVE_ID_HVM_PAGING_RING_PFN, HvmParamIndex.HVM_PARAM_PAGING_RING_PFN),
    HVM_ACCESS_RING_PFN(LegacyFormat.XC_SAVE_ID_HVM_ACCESS_RING_PFN, HvmParamIndex.HVM_PARAM_MONITOR_RING_PFN),
    HVM_SHARING_RING_PFN(LegacyFormat.XC_SAVE_ID_HVM_SHARING_RING_PFN, HvmParamIndex.HVM_PARAM_SHARING_RING_PFN),
    TOOLSTACK(LegacyFormat.XC_SAVE_ID_TOOLSTACK),
    HVM_IOREQ_SERVER_PFN(LegacyFormat.XC_SAVE_ID_HVM_IOREQ_SERVER_PFN, HvmParamIndex.HVM_PARAM_IOREQ_SERVER_PFN),
    HVM_NR_IOREQ_SERVER_PAGES(LegacyFormat.XC_SAVE_ID_HVM_NR_IOREQ_SERVER_PAGES, HvmParamIndex.HVM_PARAM_NR_IOREQ_SERVER_PAGES);

    /**
     * The sender's emission order of the HVM "pad+u64" chunks (§6.10 step 5): −14, −3, −15, −16, −17,
     * −4, −8, −10, −11, −19, −20.
     */
    private static final ChunkType[] HVM_PARAM_ORDER = {
        HVM_GENERATION_ID_ADDR, HVM_IDENT_PT, HVM_PAGING_RING_PFN, HVM_ACCESS_RING_PFN, HVM_SHARING_RING_PFN,
        HVM_VM86_TSS, HVM_CONSOLE_PFN, HVM_ACPI_IOPORTS_LOCATION, HVM_VIRIDIAN, HVM_IOREQ_SERVER_PFN,
        HVM_NR_IOREQ_SERVER_PAGES,
    };

    private static final ChunkType[] BY_CODE = new ChunkType[21];
    private static final int NO_PARAM = -1;

    static {
        for (ChunkType t : values()) {
            BY_CODE[-t.code] = t;
        }
    }

    private final int code;
    private final int hvmParamIndex;

    ChunkType(int code) {
        this(code, NO_PARAM);
    }

    ChunkType(int code, int hvmParamIndex) {
        this.code = code;
        this.hvmParamIndex = hvmParamIndex;
    }

    /** The id on the wire, −1 … −20. */
    public int code() {
        return code;
    }

    /** The Xen name, e.g. {@code XC_SAVE_ID_TSC_INFO}. */
    public String xenName() {
        return "XC_SAVE_ID_" + name();
    }

    /** Whether this is one of the HVM-only "pad+u64" chunks (§6.3). */
    public boolean isHvmParam() {
        return hvmParamIndex != NO_PARAM;
    }

    /**
     * The {@code HVM_PARAM_*} index ({@link HvmParamIndex}) whose value an HVM-param chunk carries, or −1 for other
     * chunks: the one table between the legacy chunks and the HVM params.
     */
    public int hvmParamIndex() {
        return hvmParamIndex;
    }

    /** The HVM-param chunks in the sender's emission order (§6.10 step 5). */
    public static List<ChunkType> hvmParamChunks() {
        return List.of(HVM_PARAM_ORDER);
    }

    /** Position of an HVM param chunk in the sender's emission order (§6.10), or −1 for other chunks. */
    public int hvmParamRank() {
        for (int i = 0; i < HVM_PARAM_ORDER.length; i++) {
            if (HVM_PARAM_ORDER[i] == this) {
                return i;
            }
        }
        return -1;
    }

    /** The chunk type for an id, or null if the id is not −1 … −20. */
    public static ChunkType fromCodeOrNull(int code) {
        return code < 0 && code >= -20 ? BY_CODE[-code] : null;
    }

    /** The chunk type for an id; throws IllegalArgumentException if the id is not −1 … −20. */
    public static ChunkType fromCode(int code) {
        ChunkType t = fromCodeOrNull(code);
        if (t == null) {
            throw new IllegalArgumentException("unknown XC_SAVE_ID chunk id " + code);
        }
        return t;
    }
}
