package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;

/**
 * The four per-vCPU PV records, which share one shape: X86_PV_VCPU_BASIC (0x04, a
 * {@code vcpu_guest_context} of 0x1430 or 0xAF0 octets), X86_PV_VCPU_EXTENDED (0x05,
 * {@code xen_domctl_ext_vcpucontext}, at most 128), X86_PV_VCPU_XSAVE (0x06, {@code u64 xcr0,
 * u64 xcr0_accum, xsave area}) and X86_PV_VCPU_MSRS (0x0C, {@code {u32 index, u32 res, u64 value}[]}).
 * An empty context (body of 8 octets) is accepted, as Xen 4.6–4.8 emitted some.
 * <pre>
 *  0         4         8                 8+n
 * +---------+---------+-----------------+
 * | vcpu_id | res 0   | context[n]      |
 * +---------+---------+-----------------+
 * </pre>
 */
public record VcpuRecord(RecordType type, int vcpuId, ByteBuffer data) implements LibxcRecord {
    public VcpuRecord {
        if (!type.isVcpu()) {
            throw new IllegalArgumentException(type + " is not a per-vCPU record");
        }
        if (vcpuId < 0 || vcpuId >= StreamLimits.XC_SR_MAX_VCPUS) {
            throw new IllegalArgumentException("vcpu id " + vcpuId + " out of range");
        }
        data = Bodies.view(data);
    }

    /** A fresh read-only view of the context octets. */
    @Override
    public ByteBuffer data() {
        return Bodies.view(data);
    }

    static VcpuRecord read(RecordType type, ByteBuffer body, long offset, StreamLimits limits)
            throws RecordException {
        int len = body.remaining();
        if (len < V2Format.X86_PV_VCPU_HDR_SIZE) {
            throw Bodies.bad(type, offset, "length " + len + " is below 8");
        }
        long vcpu = Integer.toUnsignedLong(body.getInt(0));
        if (body.getInt(4) != 0) {
            throw Bodies.bad(type, offset, "reserved field not zero");
        }
        if (vcpu >= limits.maxVcpus()) {
            throw Bodies.bad(type, offset, "vcpu id " + vcpu + " not below the limit " + limits.maxVcpus());
        }
        int n = len - V2Format.X86_PV_VCPU_HDR_SIZE;
        switch (type) {
            case X86_PV_VCPU_BASIC -> {
                if (n != 0 && n != V2Format.VCPU_CONTEXT_SIZE_64 && n != V2Format.VCPU_CONTEXT_SIZE_32) {
                    throw Bodies.bad(type, offset, "context of " + n + " bytes is neither 0x1430 nor 0xaf0");
                }
            }
            case X86_PV_VCPU_EXTENDED -> {
                if (n > V2Format.VCPU_EXTENDED_MAX) {
                    throw Bodies.bad(type, offset, "extended context of " + n + " bytes exceeds 128");
                }
            }
            case X86_PV_VCPU_XSAVE -> {
                if (n > limits.maxXsaveBytes()) {
                    throw Bodies.bad(type, offset, "xsave of " + n + " bytes exceeds " + limits.maxXsaveBytes());
                }
            }
            case X86_PV_VCPU_MSRS -> {
                if (n % V2Format.VCPU_MSR_ENTRY_SIZE != 0) {
                    throw Bodies.bad(type, offset, "msr list of " + n + " bytes is not a multiple of 16");
                }
            }
            default -> throw new IllegalStateException(type.name());
        }
        return new VcpuRecord(type, (int) vcpu, Bodies.view(body, 8, n));
    }

    @Override
    public int fixedLength() {
        return V2Format.X86_PV_VCPU_HDR_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(vcpuId).putInt(0);
    }

    @Override
    public ByteBuffer[] payload() {
        return data.hasRemaining() ? new ByteBuffer[] {data()} : Bodies.NO_PAYLOAD;
    }
}
