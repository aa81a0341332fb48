package dev.migrationd.protocol.x86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The 128-byte extended vCPU context of a legacy PV tail record (docs/wire-format-legacy.md §8.2): the whole
 * union of {@code xen_domctl_ext_vcpucontext}, the struct followed by zeros. The same 128 bytes go
 * verbatim into a converted v2 {@code X86_PV_VCPU_EXTENDED} record.
 *
 * <pre>
 *   0 u32 vcpu                      4 u32 size (32 in 4.0/4.1, 40 in 4.2, 56 in 4.3+)
 *   8 u64 syscall32_callback_eip   16 u64 sysenter_callback_eip
 *  24 u16 syscall32_callback_cs    26 u16 sysenter_callback_cs
 *  28 u8  syscall32_disables_events 29 u8 sysenter_disables_events   30 pad[2]
 *  32 u64 vmce.caps (4.2: mcg_cap) 40 u64 vmce.mci_ctl2_bank0    48 u64 vmce.mci_ctl2_bank1
 *  56 zeros up to 128
 * </pre>
 */
public final class PvExtVcpuContext {
    /** Bytes on the wire. */
    public static final int SIZE = 128;
    public static final int VCPU = 0;
    public static final int STRUCT_SIZE = 4;
    public static final int SYSCALL32_CALLBACK_EIP = 8;
    public static final int SYSENTER_CALLBACK_EIP = 16;
    public static final int SYSCALL32_CALLBACK_CS = 24;
    public static final int SYSENTER_CALLBACK_CS = 26;
    public static final int SYSCALL32_DISABLES_EVENTS = 28;
    public static final int SYSENTER_DISABLES_EVENTS = 29;
    public static final int VMCE_CAPS = 32;
    public static final int VMCE_MCI_CTL2_BANK0 = 40;
    public static final int VMCE_MCI_CTL2_BANK1 = 48;
    /** The struct's {@code size} as Xen 4.3–4.5 fill it in. */
    public static final int STRUCT_SIZE_4_3 = 56;

    private final MemorySegment seg;

    private PvExtVcpuContext(MemorySegment seg) {
        if (seg.byteSize() != SIZE) {
            throw new IllegalArgumentException("an extended vcpu context is " + SIZE + " bytes, not " + seg.byteSize());
        }
        this.seg = seg;
    }

    public static PvExtVcpuContext wrap(MemorySegment seg) {
        return new PvExtVcpuContext(seg);
    }

    public static PvExtVcpuContext wrap(byte[] bytes) {
        return new PvExtVcpuContext(MemorySegment.ofArray(bytes));
    }

    /** The context Xen 4.5 saves for a vCPU that never set SYSCALL32/SYSENTER callbacks: vcpu id, size 56. */
    public static PvExtVcpuContext resetState(int vcpuId) {
        PvExtVcpuContext c = wrap(new byte[SIZE]);
        Le.putU32(c.seg, VCPU, Integer.toUnsignedLong(vcpuId));
        Le.putU32(c.seg, STRUCT_SIZE, STRUCT_SIZE_4_3);
        return c;
    }

    public long vcpu() {
        return Le.u32(seg, VCPU);
    }

    public long structSize() {
        return Le.u32(seg, STRUCT_SIZE);
    }

    public long syscall32CallbackEip() {
        return Le.u64(seg, SYSCALL32_CALLBACK_EIP);
    }

    public long sysenterCallbackEip() {
        return Le.u64(seg, SYSENTER_CALLBACK_EIP);
    }

    public long vmceCaps() {
        return Le.u64(seg, VMCE_CAPS);
    }

    public MemorySegment segment() {
        return seg;
    }

    public byte[] toByteArray() {
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }
}
