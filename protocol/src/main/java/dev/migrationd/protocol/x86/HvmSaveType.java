package dev.migrationd.protocol.x86;

/**
 * Record typecodes of the HVM context blob (Xen's {@code HVM_SAVE_CODE}, docs/wire-format-legacy.md §10), with
 * the body length Xen 4.5 writes. A length of -1 means variable; {@link #CPU} also accepts the pre-3.4
 * form of 1016 bytes and Xen 4.7+'s 1032 bytes (u32 flags, u32 pad appended), every size a Xen writes and
 * Xen 4.17's loader takes.
 */
public enum HvmSaveType {
    END(0, 0, false),
    HEADER(1, 24, false),
    CPU(2, 1024, true),
    PIC(3, 8, false),
    IOAPIC(4, 400, false),
    LAPIC(5, 24, true),
    LAPIC_REGS(6, 1024, true),
    PCI_IRQ(7, 16, false),
    ISA_IRQ(8, 8, false),
    PCI_LINK(9, 8, false),
    PIT(10, 56, false),
    RTC(11, 16, false),
    HPET(12, 1048, false),
    PMTIMER(13, 8, false),
    MTRR(14, 240, true),
    VIRIDIAN_DOMAIN(15, 24, false),
    CPU_XSAVE(16, -1, true),
    VIRIDIAN_VCPU(17, 8, true),
    VMCE_VCPU(18, 24, true),
    TSC_ADJUST(19, 8, true),
    CPU_MSR(20, -1, true);

    /** Highest typecode Xen 4.5's loader knows ({@code HVM_SAVE_CODE_MAX}). */
    public static final int MAX_CODE = 20;
    /** Length of the pre-3.4 CPU record without {@code msr_tsc_aux}. */
    public static final int CPU_COMPAT_LENGTH = 1016;
    /** Length of the CPU record Xen 4.7 and later write ({@code flags} and a pad after {@code error_code}). */
    public static final int CPU_FLAGS_LENGTH = 1032;

    private static final HvmSaveType[] BY_CODE = new HvmSaveType[MAX_CODE + 1];

    static {
        for (HvmSaveType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final int length;
    private final boolean perVcpu;

    HvmSaveType(int code, int length, boolean perVcpu) {
        this.code = code;
        this.length = length;
        this.perVcpu = perVcpu;
    }

    public int code() {
        return code;
    }

    /** The fixed body length, or -1 when variable. */
    public int length() {
        return length;
    }

    /** Whether the instance number is a vCPU id. */
    public boolean perVcpu() {
        return perVcpu;
    }

    /** Whether {@code len} is an acceptable body length for this type (variable types are checked elsewhere). */
    public boolean acceptsLength(long len) {
        if (length < 0) {
            return true;
        }
        return len == length || (this == CPU && (len == CPU_COMPAT_LENGTH || len == CPU_FLAGS_LENGTH));
    }

    /** The type for a code; throws IllegalArgumentException for codes Xen 4.5 does not know. */
    public static HvmSaveType fromCode(int code) {
        if (code < 0 || code > MAX_CODE) {
            throw new IllegalArgumentException("unknown HVM save typecode " + code);
        }
        return BY_CODE[code];
    }
}
