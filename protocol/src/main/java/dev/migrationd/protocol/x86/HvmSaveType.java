package dev.migrationd.protocol.x86;

/**
 * Record typecodes of the HVM context blob (Xen's {@code HVM_SAVE_CODE}, docs/wire-format-legacy.md §10), with
 * the body length Xen 4.5 writes. A length of -1 means variable. Records whose structure grew over Xen's
 * versions also accept the other sizes a Xen writes, each of which Xen 4.17's loader takes (it zero-extends a
 * shorter one): {@link #CPU} the pre-3.4 form of 1016 bytes and Xen 4.7+'s 1032 bytes (u32 flags, u32 pad
 * appended); {@link #VIRIDIAN_DOMAIN} 16 and 32 ({@code time_ref_count} and {@code reference_tsc} added);
 * {@link #VIRIDIAN_VCPU} 16 and Xen 4.12+'s 216 (SynIC and timer MSRs); {@link #VMCE_VCPU} 8 and Xen 4.10+'s 32
 * ({@code mcg_ext_ctl}).
 */
public enum HvmSaveType {
    END(0, 0, false),
    HEADER(1, 24, false),
    CPU(2, 1024, true, 1016, 1032),
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
    VIRIDIAN_DOMAIN(15, 24, false, 16, 32),
    CPU_XSAVE(16, -1, true),
    VIRIDIAN_VCPU(17, 8, true, 16, 216),
    VMCE_VCPU(18, 24, true, 8, 32),
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
    /** The body lengths other Xen versions write, accepted as well. */
    private final int[] otherLengths;

    HvmSaveType(int code, int length, boolean perVcpu, int... otherLengths) {
        this.code = code;
        this.length = length;
        this.perVcpu = perVcpu;
        this.otherLengths = otherLengths;
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
        if (length < 0 || len == length) {
            return true;
        }
        for (int other : otherLengths) {
            if (len == other) {
                return true;
            }
        }
        return false;
    }

    /** The accepted body lengths, for a message: "24" or "24 (or 8, 32: other Xen versions)". */
    public String describeLengths() {
        if (otherLengths.length == 0) {
            return String.valueOf(length);
        }
        StringBuilder b = new StringBuilder().append(length).append(" (or ");
        for (int i = 0; i < otherLengths.length; i++) {
            b.append(i == 0 ? "" : ", ").append(otherLengths[i]);
        }
        return b.append(": other Xen versions)").toString();
    }

    /** The type for a code; throws IllegalArgumentException for codes Xen 4.5 does not know. */
    public static HvmSaveType fromCode(int code) {
        if (code < 0 || code > MAX_CODE) {
            throw new IllegalArgumentException("unknown HVM save typecode " + code);
        }
        return BY_CODE[code];
    }
}
