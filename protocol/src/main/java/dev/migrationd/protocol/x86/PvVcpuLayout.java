package dev.migrationd.protocol.x86;

/**
 * The field offsets of a PV {@code vcpu_guest_context} ({@link PvVcpuContext}) for each guest width: Xen's public
 * ABI ({@code xen/foreign/x86_64.h}, {@code x86_32.h}); a test compares them with those headers.
 *
 * <pre>
 *  GW=8                                GW=4
 *     0  fpu_ctxt[512] (FXSAVE)           0  fpu_ctxt[512]
 *   512  u64 flags                      512  u32 flags
 *   520  user_regs (200 B)              516  user_regs (68 B)
 *   720  trap_ctxt[256] × 16 B          584  trap_ctxt[256] × 8 B
 *  4816  ldt_base, ldt_ents            2632  ldt_base, ldt_ents
 *  4832  gdt_frames[16], gdt_ents      2640  gdt_frames[16], gdt_ents
 *  4968  kernel_ss, kernel_sp          2708  kernel_ss, kernel_sp
 *  4984  ctrlreg[8], debugreg[8]       2716  ctrlreg[8], debugreg[8]
 *  5112  event/failsafe/syscall cb     2780  event cs/eip, failsafe cs/eip
 *  5136  vm_assist                     2796  vm_assist
 *  5144  fs_base, gs_base_kernel/user  2800  (end)
 *  5168  (end)
 * </pre>
 */
public final class PvVcpuLayout {
    private PvVcpuLayout() {
    }

    /** Field offsets of {@code vcpu_guest_context_x86_64} (64-bit guest). */
    public static final class X64 {
        public static final int FPU_CTXT = 0;
        public static final int FLAGS = 512;
        public static final int USER_REGS = 520;
        public static final int USER_REGS_SIZE = 200;
        public static final int R15 = USER_REGS;
        public static final int R14 = USER_REGS + 8;
        public static final int R13 = USER_REGS + 16;
        public static final int R12 = USER_REGS + 24;
        public static final int RBP = USER_REGS + 32;
        public static final int RBX = USER_REGS + 40;
        public static final int R11 = USER_REGS + 48;
        public static final int R10 = USER_REGS + 56;
        public static final int R9 = USER_REGS + 64;
        public static final int R8 = USER_REGS + 72;
        public static final int RAX = USER_REGS + 80;
        public static final int RCX = USER_REGS + 88;
        public static final int RDX = USER_REGS + 96;
        public static final int RSI = USER_REGS + 104;
        public static final int RDI = USER_REGS + 112;
        public static final int ERROR_CODE = USER_REGS + 120;
        public static final int ENTRY_VECTOR = USER_REGS + 124;
        public static final int RIP = USER_REGS + 128;
        public static final int CS = USER_REGS + 136;
        public static final int SAVED_UPCALL_MASK = USER_REGS + 140;
        public static final int RFLAGS = USER_REGS + 144;
        public static final int RSP = USER_REGS + 152;
        public static final int SS = USER_REGS + 160;
        public static final int ES = USER_REGS + 168;
        public static final int DS = USER_REGS + 176;
        public static final int FS = USER_REGS + 184;
        public static final int GS = USER_REGS + 192;
        public static final int TRAP_CTXT = 720;
        public static final int TRAP_INFO_SIZE = 16;
        public static final int LDT_BASE = 4816;
        public static final int LDT_ENTS = 4824;
        public static final int GDT_FRAMES = 4832;
        public static final int GDT_ENTS = 4960;
        public static final int KERNEL_SS = 4968;
        public static final int KERNEL_SP = 4976;
        public static final int CTRLREG = 4984;
        public static final int DEBUGREG = 5048;
        public static final int EVENT_CALLBACK_EIP = 5112;
        public static final int FAILSAFE_CALLBACK_EIP = 5120;
        public static final int SYSCALL_CALLBACK_EIP = 5128;
        public static final int VM_ASSIST = 5136;
        public static final int FS_BASE = 5144;
        public static final int GS_BASE_KERNEL = 5152;
        public static final int GS_BASE_USER = 5160;
        public static final int SIZE = PvVcpuContext.SIZE_X86_64;

        private X64() {
        }
    }

    /** Field offsets of {@code vcpu_guest_context_x86_32} (32-bit PAE guest). */
    public static final class X32 {
        public static final int FPU_CTXT = 0;
        public static final int FLAGS = 512;
        public static final int USER_REGS = 516;
        public static final int USER_REGS_SIZE = 68;
        public static final int EBX = USER_REGS;
        public static final int ECX = USER_REGS + 4;
        public static final int EDX = USER_REGS + 8;
        public static final int ESI = USER_REGS + 12;
        public static final int EDI = USER_REGS + 16;
        public static final int EBP = USER_REGS + 20;
        public static final int EAX = USER_REGS + 24;
        public static final int ERROR_CODE = USER_REGS + 28;
        public static final int ENTRY_VECTOR = USER_REGS + 30;
        public static final int EIP = USER_REGS + 32;
        public static final int CS = USER_REGS + 36;
        public static final int SAVED_UPCALL_MASK = USER_REGS + 38;
        public static final int EFLAGS = USER_REGS + 40;
        public static final int ESP = USER_REGS + 44;
        public static final int SS = USER_REGS + 48;
        public static final int ES = USER_REGS + 52;
        public static final int DS = USER_REGS + 56;
        public static final int FS = USER_REGS + 60;
        public static final int GS = USER_REGS + 64;
        public static final int TRAP_CTXT = 584;
        public static final int TRAP_INFO_SIZE = 8;
        public static final int LDT_BASE = 2632;
        public static final int LDT_ENTS = 2636;
        public static final int GDT_FRAMES = 2640;
        public static final int GDT_ENTS = 2704;
        public static final int KERNEL_SS = 2708;
        public static final int KERNEL_SP = 2712;
        public static final int CTRLREG = 2716;
        public static final int DEBUGREG = 2748;
        public static final int EVENT_CALLBACK_CS = 2780;
        public static final int EVENT_CALLBACK_EIP = 2784;
        public static final int FAILSAFE_CALLBACK_CS = 2788;
        public static final int FAILSAFE_CALLBACK_EIP = 2792;
        public static final int VM_ASSIST = 2796;
        public static final int SIZE = PvVcpuContext.SIZE_X86_32;

        private X32() {
        }
    }
}
