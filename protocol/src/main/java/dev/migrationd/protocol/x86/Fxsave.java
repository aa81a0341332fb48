package dev.migrationd.protocol.x86;

import java.lang.foreign.MemorySegment;

/**
 * The 512-byte FXSAVE image at the start of a PV {@code vcpu_guest_context} ({@code fpu_ctxt}), of
 * {@code hvm_hw_cpu} ({@code fpu_regs}) and of an XSAVE area (its legacy region). Only the two fields
 * a reset state sets are named.
 */
public final class Fxsave {
    /** Size of the FXSAVE image. */
    public static final int SIZE = 512;
    /** Offset of the x87 control word (u16). */
    public static final int FCW = 0;
    /** Offset of MXCSR (u32). */
    public static final int MXCSR = 24;
    /** FCW after {@code FNINIT}. */
    public static final int FCW_INIT = 0x037F;
    /** MXCSR after reset: all exceptions masked. */
    public static final int MXCSR_INIT = 0x1F80;

    private Fxsave() {
    }

    /** Writes the FNINIT/reset values (FCW 0x37F, MXCSR 0x1F80) into the image at {@code base}. */
    static void writeInit(MemorySegment s, long base) {
        Le.putU16(s, base + FCW, FCW_INIT);
        Le.putU32(s, base + MXCSR, MXCSR_INIT);
    }
}
