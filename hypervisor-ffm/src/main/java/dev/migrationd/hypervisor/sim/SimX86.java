package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.HvmHwCpu;
import dev.migrationd.protocol.x86.HvmSaveType;
import dev.migrationd.protocol.x86.PvExtVcpuContext;
import dev.migrationd.protocol.x86.PvVcpuContext;
import dev.migrationd.protocol.x86.PvVcpuLayout;
import dev.migrationd.protocol.x86.SharedInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The sim's use of the x86 state layouts of {@code dev.migrationd.protocol.x86} (docs/wire-format-legacy.md §8
 * and §10): PV {@code vcpu_guest_context} for both guest widths, the HVM context blob (HEADER, one CPU
 * record per vCPU, END), the shared-info page and the extended vCPU context, plus where the workload keeps
 * its registers in them.
 *
 * <p>The workload keeps three 64-bit registers per vCPU in these structures ({@link #REG_COUNTER} etc.):
 * 64-bit PV and HVM use rax, rbx, rcx; 32-bit PV uses the pairs (eax, edi), (ebx, ecx), (esi, ebp),
 * low half first. edx/rdx is left alone (the start_info PFN of vCPU 0).
 *
 * <p>Stateless; thread-safe.
 */
final class SimX86 {

    static final int PV_CTX_SIZE_64 = PvVcpuContext.SIZE_X86_64;
    static final int PV_CTX_SIZE_32 = PvVcpuContext.SIZE_X86_32;
    static final int EXT_CTX_SIZE = PvExtVcpuContext.SIZE;
    static final int SHARED_INFO_SIZE = SharedInfo.SIZE;

    static final int HVM_CODE_END = 0;
    static final int HVM_CODE_HEADER = 1;
    static final int HVM_CODE_CPU = 2;
    static final int HVM_MAX_CODE = 20;
    static final int HVM_HEADER_LEN = 24;
    static final int HVM_CPU_LEN = 1024;
    static final int HVM_CPU_LEN_OLD = 1016;
    static final int HVM_MAGIC = HvmContext.HVM_FILE_MAGIC;

    static final int REG_COUNTER = 0;
    static final int REG_RNG = 1;
    static final int REG_CURSOR = 2;
    static final int WORKLOAD_REGS = 3;

    private static final int PV64_RBX = PvVcpuLayout.X64.RBX;
    private static final int PV64_RAX = PvVcpuLayout.X64.RAX;
    private static final int PV64_RCX = PvVcpuLayout.X64.RCX;
    private static final int PV32_EBX = PvVcpuLayout.X32.EBX;
    private static final int PV32_ECX = PvVcpuLayout.X32.ECX;
    private static final int PV32_ESI = PvVcpuLayout.X32.ESI;
    private static final int PV32_EDI = PvVcpuLayout.X32.EDI;
    private static final int PV32_EBP = PvVcpuLayout.X32.EBP;
    private static final int PV32_EAX = PvVcpuLayout.X32.EAX;
    private static final int CPU_RAX = HvmHwCpu.RAX;
    private static final int CPU_RBX = HvmHwCpu.RBX;
    private static final int CPU_RCX = HvmHwCpu.RCX;
    /** Guest kernel virtual base the sim's "kernel" runs at (rip points into the descriptor page). */
    private static final long KERNEL_BASE_64 = 0xFFFFFFFF81000000L;
    private static final long KERNEL_BASE_32 = 0xC0000000L;

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
        PvVcpuContext c = PvVcpuContext.resetState(w);
        if (vcpu == 0) {
            c.setRdx(startInfoPfn);
        }
        c.setRip((w == Width.W64 ? KERNEL_BASE_64 : KERNEL_BASE_32) + (SimLayout.DESCRIPTOR_PFN << 12));
        c.setCtrlreg(0, 0x80050033L); // PG, AM, WP, NE, ET, MP, PE
        c.setCtrlreg(4, 0x6F0);
        c.setCr3Pfn(topTablePfn);
        return c.toByteArray();
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
        return PvVcpuContext.wrap(w, ctx).cr3Pfn();
    }

    /** The 128-byte extended context (Xen 4.3+ layout, nothing set). */
    static byte[] extendedContext(int vcpu) {
        return PvExtVcpuContext.resetState(vcpu).toByteArray();
    }

    /** A PV shared-info page as a saved guest leaves it (events masked, arch.max_pfn set). */
    static byte[] sharedInfo(Width w, int vcpus, long p2mSize) {
        return SharedInfo.savedState(w, Math.min(vcpus, SharedInfo.LEGACY_MAX_VCPUS), p2mSize).toByteArray();
    }

    // ---- HVM ----------------------------------------------------------------------------------------

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

    /** HEADER + one reset-state CPU record per vCPU + END. */
    static byte[] hvmContext(int vcpus, int gtscKhz) {
        HvmContext.Builder b = HvmContext.builder(new HvmContext.Header(HvmContext.CHANGESET_UNKNOWN,
                HvmContext.Header.DEFAULT.cpuid(), gtscKhz));
        byte[] cpu = HvmHwCpu.resetState().toByteArray();
        for (int v = 0; v < vcpus; v++) {
            b.add(HvmSaveType.CPU, v, cpu);
        }
        return b.build().encode();
    }

    /** Validates a blob as Xen's loader would ({@link HvmContext#parse}); throws naming the problem. */
    static void validateHvmContext(byte[] blob) {
        try {
            HvmContext.parse(blob, 0);
        } catch (RecordException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
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
