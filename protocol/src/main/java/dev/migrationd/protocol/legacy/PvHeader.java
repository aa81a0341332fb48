package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.Width;
import java.util.Arrays;
import java.util.Objects;

/**
 * The PV header: p2m_size, extended info (vcpu0's raw context in the {@code "vcpu"} block, {@code "extv"}
 * presence, {@code "xcnt"} XSAVE record size) and the p2m frame list (PFNs; W-byte entries, count from GW).
 *
 * @param xsaveLen the {@code xcnt} value (16 + xcr0 pair + XSAVE area), or 0 when the block is absent
 */
public record PvHeader(long p2mSize, Bytes vcpuContext, boolean extv, int xsaveLen, long[] p2mFrames)
        implements LegacyItem {
    public PvHeader {
        LegacyFormat.checkP2mSize(p2mSize);
        Objects.requireNonNull(vcpuContext, "vcpuContext");
        if (vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64
                && vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
            throw new IllegalArgumentException("vcpu context must be 0x1430 or 0xAF0 bytes, not 0x"
                    + Integer.toHexString(vcpuContext.size()));
        }
        if (xsaveLen < 0 || (xsaveLen != 0 && xsaveLen < LegacyFormat.XSAVE_RECORD_HEADER)) {
            throw new IllegalArgumentException("xsaveLen must be 0 (absent) or >= 16: " + xsaveLen);
        }
        p2mFrames = p2mFrames.clone();
        long n = LegacyFormat.p2mFrameCount(p2mSize, guestWidthOf(vcpuContext.size()));
        if (p2mFrames.length != n) {
            throw new IllegalArgumentException("p2m frame list needs " + n + " entries, got " + p2mFrames.length);
        }
    }

    /** The guest width implied by the vcpu context size (0x1430 → 64-bit, 0xAF0 → 32-bit PAE). */
    public Width guestWidth() {
        return guestWidthOf(vcpuContext.size());
    }

    @Override
    public long[] p2mFrames() {
        return p2mFrames.clone();
    }

    public int p2mFrameCount() {
        return p2mFrames.length;
    }

    public long p2mFrame(int i) {
        return p2mFrames[i];
    }

    /** The extended-info {@code total} as the sender writes it. */
    public int extInfoTotal() {
        return vcpuContext.size() + 8 + (extv ? 8 : 0) + (xsaveLen != 0 ? 12 : 0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PvHeader h && h.p2mSize == p2mSize && h.vcpuContext.equals(vcpuContext)
                && h.extv == extv && h.xsaveLen == xsaveLen && Arrays.equals(h.p2mFrames, p2mFrames);
    }

    @Override
    public int hashCode() {
        return Objects.hash(p2mSize, vcpuContext, extv, xsaveLen, Arrays.hashCode(p2mFrames));
    }

    @Override
    public String toString() {
        return "PvHeader[p2mSize=0x" + Long.toHexString(p2mSize) + ", guestWidth=" + guestWidth() + ", extv=" + extv
                + ", xsaveLen=" + xsaveLen + ", p2mFrames=" + p2mFrames.length + "]";
    }

    @Override
    public String itemName() {
        return "HEADER";
    }

    static Width guestWidthOf(int vcpuContextSize) {
        return vcpuContextSize == LegacyFormat.VCPU_CONTEXT_SIZE_X86_64 ? Width.W64 : Width.W32;
    }
}
