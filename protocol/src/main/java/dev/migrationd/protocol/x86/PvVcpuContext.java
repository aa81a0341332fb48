package dev.migrationd.protocol.x86;

import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.PvVcpuLayout.X32;
import dev.migrationd.protocol.x86.PvVcpuLayout.X64;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A view over a PV {@code vcpu_guest_context} as carried in a legacy stream's "vcpu" extended-info
 * block and PV tail, and in v2 {@code X86_PV_VCPU_BASIC} records (docs/wire-format-legacy.md §8.1). The layout
 * depends on the <em>guest</em> width: {@value #SIZE_X86_64} bytes for a 64-bit guest ({@link X64}),
 * {@value #SIZE_X86_32} bytes for a 32-bit PAE guest ({@link X32}); the offsets are in {@link PvVcpuLayout}.
 *
 * <p>Register accessors use the 64-bit names for both widths ({@link #rip()} is {@code eip} of a
 * 32-bit guest). Setters reject values that do not fit the field. Fields that exist for one width only
 * throw {@link UnsupportedOperationException} for the other.
 *
 * <p>Not thread-safe: a view is owned by the thread that created it.
 */
public final class PvVcpuContext {

    /** {@code sizeof(vcpu_guest_context_x86_64)}. */
    public static final int SIZE_X86_64 = 0x1430;
    /** {@code sizeof(vcpu_guest_context_x86_32)}. */
    public static final int SIZE_X86_32 = 0xAF0;

    /** {@code VGCF_i387_valid}. */
    public static final long VGCF_I387_VALID = 1L << 0;
    /** {@code VGCF_in_kernel}. */
    public static final long VGCF_IN_KERNEL = 1L << 2;
    /** {@code VGCF_failsafe_disables_events}. */
    public static final long VGCF_FAILSAFE_DISABLES_EVENTS = 1L << 3;
    /** {@code VGCF_syscall_disables_events}. */
    public static final long VGCF_SYSCALL_DISABLES_EVENTS = 1L << 4;
    /** {@code VGCF_online}. */
    public static final long VGCF_ONLINE = 1L << 5;

    /** Bit number {@code VMASST_TYPE_writable_pagetables}. */
    public static final int VMASST_TYPE_WRITABLE_PAGETABLES = 2;
    /** Bit number {@code VMASST_TYPE_pae_extended_cr3}: a PAE guest accepts L3 tables above 4 GiB. */
    public static final int VMASST_TYPE_PAE_EXTENDED_CR3 = 3;

    /** {@code FLAT_KERNEL_CS64}. */
    public static final int FLAT_KERNEL_CS64 = 0xE033;
    /** {@code FLAT_KERNEL_SS64} (also {@code FLAT_KERNEL_DS32}). */
    public static final int FLAT_KERNEL_SS64 = 0xE02B;
    /** {@code FLAT_KERNEL_DS64}: the NULL selector. */
    public static final int FLAT_KERNEL_DS64 = 0x0000;
    /** {@code FLAT_KERNEL_CS} of a 32-bit guest ({@code FLAT_RING1_CS}). */
    public static final int FLAT_KERNEL_CS32 = 0xE019;
    /** {@code FLAT_KERNEL_SS}/{@code DS} of a 32-bit guest ({@code FLAT_RING1_SS}). */
    public static final int FLAT_KERNEL_SS32 = 0xE021;

    /** Number of {@code gdt_frames}, {@code ctrlreg}, {@code debugreg} and {@code trap_ctxt} entries. */
    public static final int GDT_FRAMES = 16;
    public static final int CTRLREGS = 8;
    public static final int DEBUGREGS = 8;
    public static final int TRAP_ENTRIES = 256;

    /** Per-width offsets of the fields this view exposes; -1 = absent for that width. */
    private record Layout(int word, int size, int flags, int rip, int rsp, int rdx, int rflags, int cs, int ss,
            int ds, int es, int fs, int gs, int ldtBase, int ldtEnts, int gdtFrames, int gdtEnts, int kernelSs,
            int kernelSp, int ctrlreg, int debugreg, int eventCs, int eventEip, int failsafeCs, int failsafeEip,
            int syscallEip, int vmAssist, int fsBase, int gsBaseKernel, int gsBaseUser) {
    }

    private static final Layout L64 = new Layout(8, X64.SIZE, X64.FLAGS, X64.RIP, X64.RSP, X64.RDX, X64.RFLAGS,
            X64.CS, X64.SS, X64.DS, X64.ES, X64.FS, X64.GS, X64.LDT_BASE, X64.LDT_ENTS, X64.GDT_FRAMES,
            X64.GDT_ENTS, X64.KERNEL_SS, X64.KERNEL_SP, X64.CTRLREG, X64.DEBUGREG, -1, X64.EVENT_CALLBACK_EIP,
            -1, X64.FAILSAFE_CALLBACK_EIP, X64.SYSCALL_CALLBACK_EIP, X64.VM_ASSIST, X64.FS_BASE,
            X64.GS_BASE_KERNEL, X64.GS_BASE_USER);
    private static final Layout L32 = new Layout(4, X32.SIZE, X32.FLAGS, X32.EIP, X32.ESP, X32.EDX, X32.EFLAGS,
            X32.CS, X32.SS, X32.DS, X32.ES, X32.FS, X32.GS, X32.LDT_BASE, X32.LDT_ENTS, X32.GDT_FRAMES,
            X32.GDT_ENTS, X32.KERNEL_SS, X32.KERNEL_SP, X32.CTRLREG, X32.DEBUGREG, X32.EVENT_CALLBACK_CS,
            X32.EVENT_CALLBACK_EIP, X32.FAILSAFE_CALLBACK_CS, X32.FAILSAFE_CALLBACK_EIP, -1, X32.VM_ASSIST, -1, -1,
            -1);

    private final Width guestWidth;
    private final Layout l;
    private final MemorySegment seg;

    private PvVcpuContext(Width guestWidth, MemorySegment seg) {
        this.guestWidth = guestWidth;
        this.l = guestWidth == Width.W64 ? L64 : L32;
        if (seg.byteSize() != l.size) {
            throw new IllegalArgumentException("a vcpu_guest_context of a " + guestWidth.bits() + "-bit guest is "
                    + l.size + " bytes, not " + seg.byteSize());
        }
        this.seg = seg;
    }

    /** The context size for a guest width: 0x1430 (64-bit) or 0xAF0 (32-bit). */
    public static int size(Width guestWidth) {
        return guestWidth == Width.W64 ? SIZE_X86_64 : SIZE_X86_32;
    }

    /** The guest width a "vcpu" block size announces, or null when the size is neither 0x1430 nor 0xAF0. */
    public static Width guestWidthOfSize(long size) {
        if (size == SIZE_X86_64) {
            return Width.W64;
        }
        return size == SIZE_X86_32 ? Width.W32 : null;
    }

    /** A view over {@code seg}, which must be exactly {@link #size(Width)} bytes. Writes go to {@code seg}. */
    public static PvVcpuContext wrap(Width guestWidth, MemorySegment seg) {
        return new PvVcpuContext(Objects.requireNonNull(guestWidth), seg);
    }

    /** A view over {@code bytes} (not copied). */
    public static PvVcpuContext wrap(Width guestWidth, byte[] bytes) {
        return wrap(guestWidth, MemorySegment.ofArray(bytes));
    }

    /** A zeroed context on the heap. */
    public static PvVcpuContext allocate(Width guestWidth) {
        return wrap(guestWidth, new byte[size(guestWidth)]);
    }

    /**
     * A plausible PV vCPU as a guest kernel sets it up and Xen saves it: online, in kernel mode, FPU
     * initialised (FCW 0x37F, MXCSR 0x1F80), RFLAGS 0x202 (IF), the flat kernel code/stack selectors,
     * {@code kernel_ss} set, writable page tables assisted (and extended CR3 for a 32-bit PAE guest).
     * Pointers (rip, rsp, CR3, start_info in rdx, GDT) are left 0 for the caller to fill in with
     * {@link #setRip}, {@link #setRsp}, {@link #setCr3Pfn}, {@link #setRdx}.
     */
    public static PvVcpuContext resetState(Width guestWidth) {
        PvVcpuContext c = allocate(guestWidth);
        Fxsave.writeInit(c.seg, 0);
        c.setFlags(VGCF_I387_VALID | VGCF_IN_KERNEL | VGCF_ONLINE);
        c.setRflags(0x202);
        long assist = 1L << VMASST_TYPE_WRITABLE_PAGETABLES;
        if (guestWidth == Width.W64) {
            c.setCs(FLAT_KERNEL_CS64);
            c.setSs(FLAT_KERNEL_SS64);
            c.setDs(FLAT_KERNEL_DS64);
            c.setEs(FLAT_KERNEL_DS64);
            c.setKernelSs(FLAT_KERNEL_SS64);
        } else {
            c.setCs(FLAT_KERNEL_CS32);
            c.setSs(FLAT_KERNEL_SS32);
            c.setDs(FLAT_KERNEL_SS32);
            c.setEs(FLAT_KERNEL_SS32);
            c.setKernelSs(FLAT_KERNEL_SS32);
            assist |= 1L << VMASST_TYPE_PAE_EXTENDED_CR3;
        }
        c.setVmAssist(assist);
        return c;
    }

    public Width guestWidth() {
        return guestWidth;
    }

    /** The underlying memory (this view's bytes, not a copy). */
    public MemorySegment segment() {
        return seg;
    }

    /** A copy of the context's bytes. */
    public byte[] toByteArray() {
        return seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    // -- word-sized fields (u64 for GW=8, u32 for GW=4) --------------------------------------------

    private long word(int off) {
        return l.word == 8 ? Le.u64(seg, off) : Le.u32(seg, off);
    }

    private void putWord(int off, long v) {
        if (l.word == 8) {
            Le.putU64(seg, off, v);
        } else {
            Le.putU32(seg, off, v);
        }
    }

    private int require(int off, String field) {
        if (off < 0) {
            throw new UnsupportedOperationException(field + " does not exist in the vcpu_guest_context of a "
                    + guestWidth.bits() + "-bit guest");
        }
        return off;
    }

    /** {@code VGCF_*} flags. */
    public long flags() {
        return word(l.flags);
    }

    public void setFlags(long v) {
        putWord(l.flags, v);
    }

    public boolean isOnline() {
        return (flags() & VGCF_ONLINE) != 0;
    }

    /** rip (eip for a 32-bit guest). */
    public long rip() {
        return word(l.rip);
    }

    public void setRip(long v) {
        putWord(l.rip, v);
    }

    public long rsp() {
        return word(l.rsp);
    }

    public void setRsp(long v) {
        putWord(l.rsp, v);
    }

    /** rdx/edx: for vcpu0 of a saved guest, the start_info frame (PFN once canonicalised). */
    public long rdx() {
        return word(l.rdx);
    }

    public void setRdx(long v) {
        putWord(l.rdx, v);
    }

    public long rflags() {
        return word(l.rflags);
    }

    public void setRflags(long v) {
        putWord(l.rflags, v);
    }

    public int cs() {
        return Le.u16(seg, l.cs);
    }

    public void setCs(int v) {
        Le.putU16(seg, l.cs, v);
    }

    public int ss() {
        return Le.u16(seg, l.ss);
    }

    public void setSs(int v) {
        Le.putU16(seg, l.ss, v);
    }

    public int ds() {
        return Le.u16(seg, l.ds);
    }

    public void setDs(int v) {
        Le.putU16(seg, l.ds, v);
    }

    public int es() {
        return Le.u16(seg, l.es);
    }

    public void setEs(int v) {
        Le.putU16(seg, l.es, v);
    }

    public int fs() {
        return Le.u16(seg, l.fs);
    }

    public void setFs(int v) {
        Le.putU16(seg, l.fs, v);
    }

    public int gs() {
        return Le.u16(seg, l.gs);
    }

    public void setGs(int v) {
        Le.putU16(seg, l.gs, v);
    }

    public long ldtBase() {
        return word(l.ldtBase);
    }

    public long ldtEnts() {
        return word(l.ldtEnts);
    }

    /** {@code gdt_frames[i]}, 0 ≤ i < 16 (MFNs; PFNs once canonicalised). */
    public long gdtFrame(int i) {
        return word(l.gdtFrames + l.word * Objects.checkIndex(i, GDT_FRAMES));
    }

    public void setGdtFrame(int i, long v) {
        putWord(l.gdtFrames + l.word * Objects.checkIndex(i, GDT_FRAMES), v);
    }

    public long gdtEnts() {
        return word(l.gdtEnts);
    }

    public void setGdtEnts(long v) {
        putWord(l.gdtEnts, v);
    }

    public long kernelSs() {
        return word(l.kernelSs);
    }

    public void setKernelSs(long v) {
        putWord(l.kernelSs, v);
    }

    public long kernelSp() {
        return word(l.kernelSp);
    }

    public void setKernelSp(long v) {
        putWord(l.kernelSp, v);
    }

    /** {@code ctrlreg[i]}, 0 ≤ i < 8, raw (CR3 is encoded, see {@link #cr3Pfn()}). */
    public long ctrlreg(int i) {
        return word(l.ctrlreg + l.word * Objects.checkIndex(i, CTRLREGS));
    }

    public void setCtrlreg(int i, long v) {
        putWord(l.ctrlreg + l.word * Objects.checkIndex(i, CTRLREGS), v);
    }

    public long debugreg(int i) {
        return word(l.debugreg + l.word * Objects.checkIndex(i, DEBUGREGS));
    }

    /**
     * The page-table root PFN held in canonical {@code ctrlreg[3]}: {@code cr3 >> 12} for a 64-bit guest;
     * for a 32-bit PAE guest the "extended cr3" folding {@code (v >> 12) | (v << 20)} (32-bit) is undone.
     */
    public long cr3Pfn() {
        long v = ctrlreg(3);
        if (guestWidth == Width.W64) {
            return v >>> 12;
        }
        return ((v >>> 12) | (v << 20)) & 0xFFFF_FFFFL;
    }

    /** Stores {@code pfn} in {@code ctrlreg[3]} in canonical form (the inverse of {@link #cr3Pfn()}). */
    public void setCr3Pfn(long pfn) {
        if (guestWidth == Width.W64) {
            if (pfn < 0 || pfn >= (1L << 40)) {
                throw new IllegalArgumentException("cr3 pfn out of range: 0x" + Long.toHexString(pfn));
            }
            setCtrlreg(3, pfn << 12);
        } else {
            if (pfn < 0 || pfn > 0xFFFF_FFFFL) {
                throw new IllegalArgumentException("cr3 pfn out of range: 0x" + Long.toHexString(pfn));
            }
            setCtrlreg(3, ((pfn << 12) | (pfn >>> 20)) & 0xFFFF_FFFFL);
        }
    }

    public long eventCallbackEip() {
        return word(l.eventEip);
    }

    public void setEventCallbackEip(long v) {
        putWord(l.eventEip, v);
    }

    /** 32-bit guests only. */
    public long eventCallbackCs() {
        return word(require(l.eventCs, "event_callback_cs"));
    }

    public void setEventCallbackCs(long v) {
        putWord(require(l.eventCs, "event_callback_cs"), v);
    }

    public long failsafeCallbackEip() {
        return word(l.failsafeEip);
    }

    public void setFailsafeCallbackEip(long v) {
        putWord(l.failsafeEip, v);
    }

    /** 32-bit guests only. */
    public long failsafeCallbackCs() {
        return word(require(l.failsafeCs, "failsafe_callback_cs"));
    }

    public void setFailsafeCallbackCs(long v) {
        putWord(require(l.failsafeCs, "failsafe_callback_cs"), v);
    }

    /** 64-bit guests only. */
    public long syscallCallbackEip() {
        return word(require(l.syscallEip, "syscall_callback_eip"));
    }

    public void setSyscallCallbackEip(long v) {
        putWord(require(l.syscallEip, "syscall_callback_eip"), v);
    }

    /** {@code vm_assist}: bit {@code VMASST_TYPE_*} set = assist enabled. */
    public long vmAssist() {
        return word(l.vmAssist);
    }

    public void setVmAssist(long v) {
        putWord(l.vmAssist, v);
    }

    /** 64-bit guests only. */
    public long fsBase() {
        return Le.u64(seg, require(l.fsBase, "fs_base"));
    }

    public void setFsBase(long v) {
        Le.putU64(seg, require(l.fsBase, "fs_base"), v);
    }

    /** 64-bit guests only. */
    public long gsBaseKernel() {
        return Le.u64(seg, require(l.gsBaseKernel, "gs_base_kernel"));
    }

    public void setGsBaseKernel(long v) {
        Le.putU64(seg, require(l.gsBaseKernel, "gs_base_kernel"), v);
    }

    /** 64-bit guests only. */
    public long gsBaseUser() {
        return Le.u64(seg, require(l.gsBaseUser, "gs_base_user"));
    }

    public void setGsBaseUser(long v) {
        Le.putU64(seg, require(l.gsBaseUser, "gs_base_user"), v);
    }

    /** FXSAVE x87 control word. */
    public int fpuControlWord() {
        return Le.u16(seg, Fxsave.FCW);
    }

    /** FXSAVE MXCSR. */
    public long mxcsr() {
        return Le.u32(seg, Fxsave.MXCSR);
    }
}
