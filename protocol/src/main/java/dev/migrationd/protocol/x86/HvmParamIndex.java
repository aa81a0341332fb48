package dev.migrationd.protocol.x86;

/**
 * The {@code HVM_PARAM_*} indexes the save streams carry (Xen's {@code public/hvm/params.h}), under their Xen names:
 * the values of v2 {@code HVM_PARAMS} entries, of the legacy HVM-param chunks (which chunk carries which:
 * {@link dev.migrationd.protocol.legacy.ChunkType#hvmParamIndex()}) and of the legacy HVM tail's magic PFNs, and
 * the keys of the hypervisor's HVM-param accessors.
 */
public final class HvmParamIndex {
    private HvmParamIndex() {
    }

    public static final int HVM_PARAM_STORE_PFN = 1;
    public static final int HVM_PARAM_IOREQ_PFN = 5;
    public static final int HVM_PARAM_BUFIOREQ_PFN = 6;
    public static final int HVM_PARAM_VIRIDIAN = 9;
    public static final int HVM_PARAM_IDENT_PT = 12;
    public static final int HVM_PARAM_VM86_TSS = 15;
    public static final int HVM_PARAM_CONSOLE_PFN = 17;
    public static final int HVM_PARAM_ACPI_IOPORTS_LOCATION = 19;
    public static final int HVM_PARAM_PAGING_RING_PFN = 27;
    /** The legacy stream's {@code ACCESS_RING_PFN}. */
    public static final int HVM_PARAM_MONITOR_RING_PFN = 28;
    public static final int HVM_PARAM_SHARING_RING_PFN = 29;
    public static final int HVM_PARAM_IOREQ_SERVER_PFN = 32;
    public static final int HVM_PARAM_NR_IOREQ_SERVER_PAGES = 33;
    public static final int HVM_PARAM_VM_GENERATION_ID_ADDR = 34;
    public static final int HVM_PARAM_X87_FIP_WIDTH = 36;
    public static final int HVM_PARAM_VM86_TSS_SIZED = 37;
    public static final int HVM_PARAM_MCA_CAP = 38;
    /** {@code HVM_NR_PARAMS} of Xen 4.17: every index is below it. */
    public static final int HVM_NR_PARAMS = 39;
}
