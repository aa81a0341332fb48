package dev.migrationd.protocol.x86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A view over the HVM context CPU record body, Xen's {@code struct hvm_hw_cpu} as of Xen 4.5 (1024
 * bytes; docs/wire-format-legacy.md §10). All fields little-endian; offsets checked against
 * {@code xen/arch-x86/hvm/save.h} by a test (Xen ≥ 4.7 appends {@code u32 flags, pad}, not used here).
 *
 * <pre>
 *    0 fpu_regs[512] (FXSAVE)        512 rax rbx rcx rdx rbp rsi rdi rsp r8..r15 (u64)
 *  640 rip   648 rflags              656 cr0 cr2 cr3 cr4      688 dr0 dr1 dr2 dr3 dr6 dr7
 *  736 u32 sel[cs ds es fs gs ss tr ldtr]
 *  768 u32 limit[cs ds es fs gs ss tr ldtr idtr gdtr]
 *  808 u64 base[cs ds es fs gs ss tr ldtr idtr gdtr]
 *  888 u32 arbytes[cs ds es fs gs ss tr ldtr]
 *  920 sysenter_cs esp eip   944 shadow_gs   952 msr_flags lstar star cstar syscall_mask efer tsc_aux
 * 1008 tsc   1016 u32 pending_event   1020 u32 error_code
 * </pre>
 */
public final class HvmHwCpu {
    public static final int SIZE = 1024;
    public static final int FPU_REGS = 0;
    public static final int RAX = 512;
    public static final int RBX = 520;
    public static final int RCX = 528;
    public static final int RDX = 536;
    public static final int RBP = 544;
    public static final int RSI = 552;
    public static final int RDI = 560;
    public static final int RSP = 568;
    public static final int R8 = 576;
    public static final int R9 = 584;
    public static final int R10 = 592;
    public static final int R11 = 600;
    public static final int R12 = 608;
    public static final int R13 = 616;
    public static final int R14 = 624;
    public static final int R15 = 632;
    public static final int RIP = 640;
    public static final int RFLAGS = 648;
    public static final int CR0 = 656;
    public static final int CR2 = 664;
    public static final int CR3 = 672;
    public static final int CR4 = 680;
    public static final int DR0 = 688;
    public static final int DR1 = 696;
    public static final int DR2 = 704;
    public static final int DR3 = 712;
    public static final int DR6 = 720;
    public static final int DR7 = 728;
    /** u32 selectors, in {@link Seg} order (8 entries). */
    public static final int SEL = 736;
    /** u32 limits, in {@link Seg} order (10 entries, incl. IDTR, GDTR). */
    public static final int LIMIT = 768;
    /** u64 bases, in {@link Seg} order (10 entries). */
    public static final int BASE = 808;
    /** u32 attribute bytes, in {@link Seg} order (8 entries). */
    public static final int ARBYTES = 888;
    public static final int SYSENTER_CS = 920;
    public static final int SYSENTER_ESP = 928;
    public static final int SYSENTER_EIP = 936;
    public static final int SHADOW_GS = 944;
    public static final int MSR_FLAGS = 952;
    public static final int MSR_LSTAR = 960;
    public static final int MSR_STAR = 968;
    public static final int MSR_CSTAR = 976;
    public static final int MSR_SYSCALL_MASK = 984;
    public static final int MSR_EFER = 992;
    public static final int MSR_TSC_AUX = 1000;
    public static final int TSC = 1008;
    public static final int PENDING_EVENT = 1016;
    public static final int ERROR_CODE = 1020;

    /** CR0.PE, ET, PG and the bits a loader accepts (PE MP EM TS ET NE WP AM NW CD PG). */
    public static final long CR0_PE = 1L;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_PG = 1L << 31;
    public static final long CR0_VALID_BITS = 0xE005_003FL;
    /** CR0 after reset: CD | NW | ET. */
    public static final long CR0_RESET = 0x6000_0010L;
    public static final long RFLAGS_RESET = 0x2;
    public static final long DR6_RESET = 0xFFFF_0FF0L;
    public static final long DR7_RESET = 0x400;
    /** Segment attributes in Xen's format (type:4 s:1 dpl:2 p:1 avl:1 l:1 db:1 g:1). */
    public static final int AR_CODE = 0x9B;
    public static final int AR_DATA = 0x93;
    public static final int AR_TSS = 0x8B;
    public static final int AR_LDT = 0x82;
    public static final int AR_CODE64 = 0xA9B;

    /** The segment registers, in the order of the sel/limit/base/arbytes arrays. */
    public enum Seg {
        CS, DS, ES, FS, GS, SS, TR, LDTR,
        /** Descriptor-table registers: limit and base only. */
        IDTR, GDTR;

        boolean hasSelector() {
            return ordinal() < IDTR.ordinal();
        }
    }

    private final MemorySegment seg;

    private HvmHwCpu(MemorySegment seg) {
        if (seg.byteSize() != SIZE) {
            throw new IllegalArgumentException("an hvm_hw_cpu record is " + SIZE + " bytes, not " + seg.byteSize());
        }
        this.seg = seg;
    }

    public static HvmHwCpu wrap(MemorySegment seg) {
        return new HvmHwCpu(seg);
    }

    public static HvmHwCpu wrap(byte[] body) {
        return new HvmHwCpu(MemorySegment.ofArray(body));
    }

    /**
     * x86 power-on state: CR0 0x60000010, RIP 0xFFF0, CS 0xF000 base 0xFFFF0000 limit 0xFFFF ar 0x9b,
     * data segments limit 0xFFFF ar 0x93, TR ar 0x8b, LDTR ar 0x82, IDTR/GDTR limit 0xFFFF, RFLAGS 2,
     * DR6 0xFFFF0FF0, DR7 0x400, FPU FCW 0x37F / MXCSR 0x1F80.
     */
    public static HvmHwCpu resetState() {
        HvmHwCpu c = wrap(new byte[SIZE]);
        Fxsave.writeInit(c.seg, FPU_REGS);
        c.set(RIP, 0xFFF0);
        c.set(RFLAGS, RFLAGS_RESET);
        c.set(CR0, CR0_RESET);
        c.set(DR6, DR6_RESET);
        c.set(DR7, DR7_RESET);
        for (Seg s : Seg.values()) {
            c.setLimit(s, 0xFFFF);
            if (s.hasSelector()) {
                c.setArbytes(s, AR_DATA);
            }
        }
        c.setSelector(Seg.CS, 0xF000);
        c.setBase(Seg.CS, 0xFFFF_0000L);
        c.setArbytes(Seg.CS, AR_CODE);
        c.setArbytes(Seg.TR, AR_TSS);
        c.setArbytes(Seg.LDTR, AR_LDT);
        return c;
    }

    /** A u64 field at one of this class's offsets. */
    public long get(int offset) {
        return Le.u64(seg, checkU64(offset));
    }

    public void set(int offset, long value) {
        Le.putU64(seg, checkU64(offset), value);
    }

    private static int checkU64(int offset) {
        if (offset < RAX || offset >= SEL && offset < SYSENTER_CS || offset > TSC || (offset & 7) != 0) {
            throw new IllegalArgumentException("offset " + offset + " is not a u64 field of hvm_hw_cpu");
        }
        return offset;
    }

    public long rip() {
        return get(RIP);
    }

    public long rflags() {
        return get(RFLAGS);
    }

    public long cr0() {
        return get(CR0);
    }

    public long msrEfer() {
        return get(MSR_EFER);
    }

    public long selector(Seg s) {
        if (!s.hasSelector()) {
            throw new IllegalArgumentException(s + " has no selector");
        }
        return Le.u32(seg, SEL + 4L * s.ordinal());
    }

    public void setSelector(Seg s, long v) {
        if (!s.hasSelector()) {
            throw new IllegalArgumentException(s + " has no selector");
        }
        Le.putU32(seg, SEL + 4L * s.ordinal(), v);
    }

    public long limit(Seg s) {
        return Le.u32(seg, LIMIT + 4L * s.ordinal());
    }

    public void setLimit(Seg s, long v) {
        Le.putU32(seg, LIMIT + 4L * s.ordinal(), v);
    }

    public long base(Seg s) {
        return Le.u64(seg, BASE + 8L * s.ordinal());
    }

    public void setBase(Seg s, long v) {
        Le.putU64(seg, BASE + 8L * s.ordinal(), v);
    }

    public long arbytes(Seg s) {
        if (!s.hasSelector()) {
            throw new IllegalArgumentException(s + " has no attribute bytes");
        }
        return Le.u32(seg, ARBYTES + 4L * s.ordinal());
    }

    public void setArbytes(Seg s, long v) {
        if (!s.hasSelector()) {
            throw new IllegalArgumentException(s + " has no attribute bytes");
        }
        Le.putU32(seg, ARBYTES + 4L * s.ordinal(), v);
    }

    public long pendingEvent() {
        return Le.u32(seg, PENDING_EVENT);
    }

    public int fpuControlWord() {
        return Le.u16(seg, FPU_REGS + Fxsave.FCW);
    }

    /**
     * What Xen's loader rejects in CR0 (docs/wire-format-legacy.md §10): reserved bits, ET clear, PG without PE.
     * Returns null when CR0 is acceptable, else the problem.
     */
    public static String cr0Problem(long cr0) {
        if ((cr0 & ~CR0_VALID_BITS) != 0) {
            return "CR0 0x" + Long.toHexString(cr0) + " has reserved bits set";
        }
        if ((cr0 & CR0_ET) == 0) {
            return "CR0 0x" + Long.toHexString(cr0) + " lacks ET (bit 4)";
        }
        if ((cr0 & CR0_PG) != 0 && (cr0 & CR0_PE) == 0) {
            return "CR0 0x" + Long.toHexString(cr0) + " has PG without PE";
        }
        return null;
    }

    public MemorySegment segment() {
        return seg;
    }

    public byte[] toByteArray() {
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public String toString() {
        return "HvmHwCpu[rip=0x" + Long.toHexString(rip()) + ", cr0=0x" + Long.toHexString(cr0()) + ", cs=0x"
                + Long.toHexString(selector(Seg.CS)) + "]";
    }
}
