package dev.migrationd.protocol.v2;

/**
 * The libxc record types ({@code REC_TYPE_*}, docs/wire-format-v2.md §2.4). {@link #fromCode(int)} throws on an
 * unknown code; {@link #fromCodeOrNull(int)} is for readers that report the error themselves.
 */
public enum RecordType {
    END(0x00),
    PAGE_DATA(0x01),
    X86_PV_INFO(0x02),
    X86_PV_P2M_FRAMES(0x03),
    X86_PV_VCPU_BASIC(0x04),
    X86_PV_VCPU_EXTENDED(0x05),
    X86_PV_VCPU_XSAVE(0x06),
    SHARED_INFO(0x07),
    X86_TSC_INFO(0x08),
    HVM_CONTEXT(0x09),
    HVM_PARAMS(0x0A),
    TOOLSTACK(0x0B),
    X86_PV_VCPU_MSRS(0x0C),
    VERIFY(0x0D),
    CHECKPOINT(0x0E),
    CHECKPOINT_DIRTY_PFN_LIST(0x0F),
    STATIC_DATA_END(0x10),
    X86_CPUID_POLICY(0x11),
    X86_MSR_POLICY(0x12);

    private static final RecordType[] BY_CODE = new RecordType[0x13];

    static {
        for (RecordType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    RecordType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** Records with an empty body: END, VERIFY, CHECKPOINT, STATIC_DATA_END. */
    public boolean isSignal() {
        return this == END || this == VERIFY || this == CHECKPOINT || this == STATIC_DATA_END;
    }

    /** Records that only an image of version 3 may carry. */
    public boolean isV3Only() {
        return this == STATIC_DATA_END || this == X86_CPUID_POLICY || this == X86_MSR_POLICY;
    }

    /** The four per-vCPU PV records sharing the {@code u32 vcpu_id, u32 reserved} prefix. */
    public boolean isVcpu() {
        return this == X86_PV_VCPU_BASIC || this == X86_PV_VCPU_EXTENDED || this == X86_PV_VCPU_XSAVE
                || this == X86_PV_VCPU_MSRS;
    }

    public static RecordType fromCodeOrNull(long code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[(int) code] : null;
    }

    public static RecordType fromCode(int code) {
        RecordType t = fromCodeOrNull(Integer.toUnsignedLong(code));
        if (t == null) {
            throw new IllegalArgumentException("unknown libxc record type 0x" + Integer.toHexString(code));
        }
        return t;
    }
}
