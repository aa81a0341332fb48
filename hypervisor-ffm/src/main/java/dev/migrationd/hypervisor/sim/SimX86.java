package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The x86 state layouts the sim needs (legacy-stream.md §8 and §10): PV {@code vcpu_guest_context} for
 * both guest widths, the HVM context blob (HEADER, one CPU record per vCPU, END), the shared-info page and
 * the extended vCPU context. Minimal on purpose: package {@code protocol.x86} (branch {@code tools}) is
 * the full implementation and replaces this once it lands.
 *
 * <p>The workload keeps three 64-bit registers per vCPU in these structures ({@link #REG_COUNTER} etc.):
 * 64-bit PV and HVM use rax, rbx, rcx; 32-bit PV uses the pairs (eax, edi), (ebx, ecx), (esi, ebp),
 * low half first. edx/rdx is left alone (the start_info PFN of vCPU 0).
 *
 * <p>Stateless; thread-safe.
 */
final class SimX86 {

    static final int PV_CTX_SIZE_64 = 0x1430;
    static final int PV_CTX_SIZE_32 = 0xAF0;
    static final int EXT_CTX_SIZE = 128;
    static final int SHARED_INFO_SIZE = 4096;

    static final int HVM_CODE_END = 0;
    static final int HVM_CODE_HEADER = 1;
    static final int HVM_CODE_CPU = 2;
    static final int HVM_MAX_CODE = 20;
    static final int HVM_HEADER_LEN = 24;
    static final int HVM_CPU_LEN = 1024;
    static final int HVM_CPU_LEN_OLD = 1016;
    static final int HVM_MAGIC = 0x54381286;

    static final int REG_COUNTER = 0;
    static final int REG_RNG = 1;
    static final int REG_CURSOR = 2;
    static final int WORKLOAD_REGS = 3;

    // 64-bit PV offsets
    private static final int PV64_FLAGS = 512;
    private static final int PV64_RBX = 560;
    private static final int PV64_RAX = 600;
    private static final int PV64_RCX = 608;
    private static final int PV64_RDX = 616;
    private static final int PV64_RIP = 648;
    private static final int PV64_CS = 656;
    private static final int PV64_RFLAGS = 664;
    private static final int PV64_SS = 680;
    private static final int PV64_KERNEL_SS = 4968;
    private static final int PV64_CTRLREG = 4984;
    private static final int PV64_VM_ASSIST = 5136;
    // 32-bit PV offsets
    private static final int PV32_FLAGS = 512;
    private static final int PV32_EBX = 516;
    private static final int PV32_ECX = 520;
    private static final int PV32_EDX = 524;
    private static final int PV32_ESI = 528;
    private static final int PV32_EDI = 532;
    private static final int PV32_EBP = 536;
    private static final int PV32_EAX = 540;
    private static final int PV32_EIP = 548;
    private static final int PV32_CS = 552;
    private static final int PV32_EFLAGS = 556;
    private static final int PV32_SS = 564;
    private static final int PV32_KERNEL_SS = 2708;
    private static final int PV32_CTRLREG = 2716;
    private static final int PV32_VM_ASSIST = 2796;

    private static final int VGCF_I387_VALID = 1;
    private static final int VGCF_IN_KERNEL = 1 << 2;
    private static final int VGCF_ONLINE = 1 << 5;
    private static final int VMASST_PAE_EXTENDED_CR3 = 1 << 3;

    // HVM CPU record offsets
    private static final int CPU_RAX = 512;
    private static final int CPU_RBX = 520;
    private static final int CPU_RCX = 528;
    private static final int CPU_RIP = 640;
    private static final int CPU_RFLAGS = 648;
    private static final int CPU_CR0 = 656;
    private static final int CPU_DR6 = 720;
    private static final int CPU_DR7 = 728;
    private static final int CPU_SEL = 736;
    private static final int CPU_LIMIT = 768;
    private static final int CPU_BASE = 808;
    private static final int CPU_AR = 888;

    private SimX86() {
    }

    static int pvContextSize(Width w) {
        return w == Width.W64 ? PV_CTX_SIZE_64 : PV_CTX_SIZE_32;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * A PV vCPU's context in a running kernel's state: online, in kernel, FPU valid, CR3 = the top page
     * table (canonical PFN form), vCPU 0's rdx = the start_info PFN.
     */
    static byte[] pvContext(Width w, int vcpu, long topTablePfn, long startInfoPfn) {
        byte[] b = new byte[pvContextSize(w)];
        ByteBuffer bb = le(b);
        bb.putShort(0, (short) 0x037F);   // FCW
        bb.putInt(24, 0x1F80);            // MXCSR
        if (w == Width.W64) {
            bb.putLong(PV64_FLAGS, VGCF_I387_VALID | VGCF_IN_KERNEL | VGCF_ONLINE);
            if (vcpu == 0) {
                bb.putLong(PV64_RDX, startInfoPfn);
            }
            bb.putLong(PV64_RIP, 0xFFFFFFFF81000000L + (SimLayout.DESCRIPTOR_PFN << 12));
            bb.putShort(PV64_CS, (short) 0xE033);      // FLAT_KERNEL_CS64
            bb.putLong(PV64_RFLAGS, 0x202);
            bb.putShort(PV64_SS, (short) 0xE02B);      // FLAT_KERNEL_SS64
            bb.putLong(PV64_KERNEL_SS, 0xE02B);
            bb.putLong(PV64_CTRLREG, 0x80050033L);      // cr0
            bb.putLong(PV64_CTRLREG + 3 * 8, topTablePfn << 12);
            bb.putLong(PV64_CTRLREG + 4 * 8, 0x6F0);   // cr4
        } else {
            bb.putInt(PV32_FLAGS, VGCF_I387_VALID | VGCF_IN_KERNEL | VGCF_ONLINE);
            if (vcpu == 0) {
                bb.putInt(PV32_EDX, (int) startInfoPfn);
            }
            bb.putInt(PV32_EIP, 0xC0000000 + (int) (SimLayout.DESCRIPTOR_PFN << 12));
            bb.putShort(PV32_CS, (short) 0xE019);       // FLAT_KERNEL_CS
            bb.putInt(PV32_EFLAGS, 0x202);
            bb.putShort(PV32_SS, (short) 0xE021);       // FLAT_KERNEL_SS
            bb.putInt(PV32_KERNEL_SS, 0xE021);
            bb.putInt(PV32_CTRLREG, 0x80050033);
            bb.putInt(PV32_CTRLREG + 3 * 4, (int) ((topTablePfn << 12) | (topTablePfn >>> 20)));
            bb.putInt(PV32_CTRLREG + 4 * 4, 0x6F0);
            bb.putInt(PV32_VM_ASSIST, VMASST_PAE_EXTENDED_CR3);
        }
        return b;
    }

    /** Reads the workload register {@code reg} from a PV context. */
    static long pvReg(Width w, byte[] ctx, int reg) {
        ByteBuffer bb = le(ctx);
        if (w == Width.W64) {
            return bb.getLong(switch (reg) {
                case REG_COUNTER -> PV64_RAX;
                case REG_RNG -> PV64_RBX;
                default -> PV64_RCX;
            });
        }
        int[] pair = pv32Pair(reg);
        return (bb.getInt(pair[0]) & 0xFFFFFFFFL) | ((long) bb.getInt(pair[1]) << 32);
    }

    static void setPvReg(Width w, byte[] ctx, int reg, long value) {
        ByteBuffer bb = le(ctx);
        if (w == Width.W64) {
            bb.putLong(switch (reg) {
                case REG_COUNTER -> PV64_RAX;
                case REG_RNG -> PV64_RBX;
                default -> PV64_RCX;
            }, value);
            return;
        }
        int[] pair = pv32Pair(reg);
        bb.putInt(pair[0], (int) value);
        bb.putInt(pair[1], (int) (value >>> 32));
    }

    private static int[] pv32Pair(int reg) {
        return switch (reg) {
            case REG_COUNTER -> new int[] {PV32_EAX, PV32_EDI};
            case REG_RNG -> new int[] {PV32_EBX, PV32_ECX};
            default -> new int[] {PV32_ESI, PV32_EBP};
        };
    }

    /** The PFN in a PV context's CR3 (unfolding PAE's extended-cr3 form). */
    static long pvCr3Pfn(Width w, byte[] ctx) {
        ByteBuffer bb = le(ctx);
        if (w == Width.W64) {
            return bb.getLong(PV64_CTRLREG + 3 * 8) >>> 12;
        }
        int v = bb.getInt(PV32_CTRLREG + 3 * 4);
        return ((v >>> 12) | (v << 20)) & 0xFFFFFFFFL;
    }

    /** The 128-byte extended context (Xen 4.3+ size 56, nothing set). */
    static byte[] extendedContext(int vcpu) {
        byte[] b = new byte[EXT_CTX_SIZE];
        ByteBuffer bb = le(b);
        bb.putInt(0, vcpu);
        bb.putInt(4, 56);
        return b;
    }

    /** A PV shared-info page: arch.max_pfn set, frame_list_list zero (as the sender writes it), every event masked. */
    static byte[] sharedInfo(Width w, long p2mSize) {
        byte[] b = new byte[SHARED_INFO_SIZE];
        ByteBuffer bb = le(b);
        if (w == Width.W64) {
            for (int i = 0; i < 64; i++) {
                bb.putLong(2560 + i * 8, -1L);     // evtchn_mask
            }
            bb.putLong(3088, p2mSize);             // arch.max_pfn
        } else {
            for (int i = 0; i < 32; i++) {
                bb.putInt(2176 + i * 4, -1);
            }
            bb.putInt(2316, (int) p2mSize);
        }
        return b;
    }

    // ---- HVM ----------------------------------------------------------------------------------------

    /** A CPU record ({@code hvm_hw_cpu}, 1024 bytes) in x86 reset state. */
    static byte[] hvmCpuRecord() {
        byte[] b = new byte[HVM_CPU_LEN];
        ByteBuffer bb = le(b);
        bb.putShort(0, (short) 0x037F);
        bb.putInt(24, 0x1F80);
        bb.putLong(CPU_RIP, 0xFFF0);
        bb.putLong(CPU_RFLAGS, 2);
        bb.putLong(CPU_CR0, 0x60000010L);
        bb.putLong(CPU_DR6, 0xFFFF0FF0L);
        bb.putLong(CPU_DR7, 0x400);
        // segments cs ds es fs gs ss tr ldtr
        for (int s = 0; s < 8; s++) {
            bb.putInt(CPU_SEL + s * 4, s == 0 ? 0xF000 : 0);
            bb.putInt(CPU_LIMIT + s * 4, 0xFFFF);
            bb.putLong(CPU_BASE + s * 8, s == 0 ? 0xFFFF0000L : 0);
            int ar = switch (s) {
                case 0 -> 0x9B;
                case 6 -> 0x8B;
                case 7 -> 0x82;
                default -> 0x93;
            };
            bb.putInt(CPU_AR + s * 4, ar);
        }
        bb.putInt(CPU_LIMIT + 8 * 4, 0xFFFF); // idtr
        bb.putInt(CPU_LIMIT + 9 * 4, 0xFFFF); // gdtr
        return b;
    }

    static long hvmReg(byte[] cpuRecord, int off, int reg) {
        return le(cpuRecord).getLong(off + hvmRegOffset(reg));
    }

    static void setHvmReg(byte[] blob, int off, int reg, long value) {
        le(blob).putLong(off + hvmRegOffset(reg), value);
    }

    private static int hvmRegOffset(int reg) {
        return switch (reg) {
            case REG_COUNTER -> CPU_RAX;
            case REG_RNG -> CPU_RBX;
            default -> CPU_RCX;
        };
    }

    /** HEADER + one CPU record per vCPU + END. */
    static byte[] hvmContext(int vcpus, int gtscKhz) {
        int len = 8 + HVM_HEADER_LEN + vcpus * (8 + HVM_CPU_LEN) + 8;
        byte[] b = new byte[len];
        ByteBuffer bb = le(b);
        bb.putShort((short) HVM_CODE_HEADER).putShort((short) 0).putInt(HVM_HEADER_LEN);
        bb.putInt(HVM_MAGIC).putInt(1).putLong(-1L).putInt(0x000906EA).putInt(gtscKhz);
        byte[] cpu = hvmCpuRecord();
        for (int v = 0; v < vcpus; v++) {
            bb.putShort((short) HVM_CODE_CPU).putShort((short) v).putInt(HVM_CPU_LEN);
            bb.put(cpu);
        }
        bb.putShort((short) HVM_CODE_END).putShort((short) 0).putInt(0);
        return b;
    }

    /**
     * Checks an HVM context blob (untrusted: it came from a stream) and returns the offsets of the CPU
     * record bodies by vCPU.
     *
     * @throws IllegalArgumentException naming the problem and its offset
     */
    static int[] hvmCpuOffsets(byte[] blob, int vcpus) {
        ByteBuffer bb = le(blob);
        int[] offsets = new int[vcpus];
        java.util.Arrays.fill(offsets, -1);
        int off = 0;
        boolean first = true;
        while (true) {
            if (blob.length - off < 8) {
                throw new IllegalArgumentException("HVM context truncated at offset " + off + " (no END record)");
            }
            int code = Short.toUnsignedInt(bb.getShort(off));
            int instance = Short.toUnsignedInt(bb.getShort(off + 2));
            long length = Integer.toUnsignedLong(bb.getInt(off + 4));
            int body = off + 8;
            if (length > blob.length - body) {
                throw new IllegalArgumentException("HVM record code " + code + " at offset " + off + " has length "
                        + length + " beyond the blob's " + blob.length + " bytes");
            }
            if (first) {
                if (code != HVM_CODE_HEADER || length != HVM_HEADER_LEN) {
                    throw new IllegalArgumentException("HVM context does not start with a HEADER record (code " + code + ")");
                }
                if (bb.getInt(body) != HVM_MAGIC || bb.getInt(body + 4) != 1) {
                    throw new IllegalArgumentException("HVM context HEADER has bad magic or version");
                }
                first = false;
            } else if (code == HVM_CODE_END) {
                if (body != blob.length) {
                    throw new IllegalArgumentException("HVM context has " + (blob.length - body) + " bytes after END");
                }
                break;
            } else if (code > HVM_MAX_CODE || code == HVM_CODE_HEADER) {
                throw new IllegalArgumentException("HVM record code " + code + " at offset " + off + " is not valid here");
            } else if (code == HVM_CODE_CPU) {
                if (length != HVM_CPU_LEN && length != HVM_CPU_LEN_OLD) {
                    throw new IllegalArgumentException("HVM CPU record at offset " + off + " has length " + length);
                }
                if (instance >= vcpus) {
                    throw new IllegalArgumentException("HVM CPU record for vCPU " + instance + " but the domain has " + vcpus);
                }
                if (offsets[instance] >= 0) {
                    throw new IllegalArgumentException("duplicate HVM CPU record for vCPU " + instance);
                }
                offsets[instance] = body;
            }
            off = body + (int) length;
        }
        for (int v = 0; v < vcpus; v++) {
            if (offsets[v] < 0) {
                throw new IllegalArgumentException("HVM context has no CPU record for vCPU " + v);
            }
        }
        return offsets;
    }
}
