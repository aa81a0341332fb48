package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * The PV header (§3): p2m_size, extended info (vcpu0's raw context in the {@code "vcpu"} block, {@code "extv"}
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

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        int total = extInfoTotal();
        ByteBuffer b = Wire.alloc(width.bytes() * 2 + 4 + total + p2mFrames.length * width.bytes());
        Wire.putUlong(b, width, p2mSize);
        Wire.putUlong(b, width, -1L);
        b.putInt(total);
        b.putInt(LegacyFormat.EXT_BLOCK_VCPU).putInt(vcpuContext.size());
        vcpuContext.copyTo(b);
        if (extv) {
            b.putInt(LegacyFormat.EXT_BLOCK_EXTV).putInt(0);
        }
        if (xsaveLen != 0) {
            b.putInt(LegacyFormat.EXT_BLOCK_XCNT).putInt(4).putInt(xsaveLen);
        }
        for (long f : p2mFrames) {
            Wire.putUlong(b, width, f);
        }
        Wire.send(sink, b);
    }

    /**
     * Reads the rest of a PV header, after its {@code p2m_size}: the extended-info signature and blocks (each block
     * checked before its data is read), then the p2m frame list, every PFN below p2m_size.
     *
     * @return the header being read, which knows the guest width as soon as the 'vcpu' block is in
     */
    static Reading read(Framer in, long p2mSize, Framer.Then<? super PvHeader> then) throws StreamException {
        Reading r = new Reading(in, p2mSize, then);
        r.start();
        return r;
    }

    /** The state of one PV header being read. */
    static final class Reading {
        private final Framer in;
        private final long p2mSize;
        private final Framer.Then<? super PvHeader> then;
        private long extRemaining;
        private Bytes vcpu;
        private boolean extv;
        private boolean seenExtv;
        private boolean seenXcnt;
        private int xsaveLen;

        Reading(Framer in, long p2mSize, Framer.Then<? super PvHeader> then) {
            this.in = in;
            this.p2mSize = p2mSize;
            this.then = then;
        }

        private void start() throws StreamException {
            in.field("EXT_SIGNATURE", in.width().bytes(), this::signature);
        }

        private void signature(ByteBuffer f) throws StreamException {
            long sig = in.ulong(f);
            if (sig != (in.width() == Width.W64 ? -1L : 0xFFFF_FFFFL)) {
                throw in.record("no extended-info signature ~0 after p2m_size (pre-3.0 PV image or not PV)");
            }
            in.field("EXT_TOTAL", 4, this::total);
        }

        private void total(ByteBuffer f) throws StreamException {
            long total = f.getInt() & 0xFFFF_FFFFL;
            if (total > in.limits().maxExtInfoBytes()) {
                throw in.fatal("extended-info total " + total + " exceeds " + in.limits().maxExtInfoBytes());
            }
            extRemaining = total;
            nextBlock();
        }

        private void nextBlock() throws StreamException {
            if (extRemaining == 0) {
                if (vcpu == null) {
                    throw in.record("extended info has no 'vcpu' block");
                }
                in.field("P2M_FRAMES", LegacyFormat.p2mFrameCount(p2mSize, guestWidthOf(vcpu.size()))
                        * in.width().bytes(), this::frames);
            } else if (extRemaining < LegacyFormat.EXT_BLOCK_HEADER) {
                throw in.record(extRemaining + " stray bytes at the end of the extended info");
            } else {
                in.field("EXT_BLOCK_HEADER", LegacyFormat.EXT_BLOCK_HEADER, this::blockHeader);
            }
        }

        private void blockHeader(ByteBuffer f) throws StreamException {
            int id = f.getInt();
            long size = f.getInt() & 0xFFFF_FFFFL;
            extRemaining -= LegacyFormat.EXT_BLOCK_HEADER;
            String name = blockName(id);
            if (size > extRemaining) {
                throw in.record("extended-info block '" + name + "' of " + size + " bytes exceeds the "
                        + extRemaining + " bytes left of total");
            }
            switch (id) {
                case LegacyFormat.EXT_BLOCK_VCPU -> {
                    if (vcpu != null) {
                        throw in.record("duplicate extended-info block 'vcpu'");
                    }
                    if (size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64 && size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
                        throw in.record("'vcpu' block of 0x" + Long.toHexString(size) + " bytes (must be 0x1430 or 0xaf0)");
                    }
                }
                case LegacyFormat.EXT_BLOCK_EXTV -> {
                    if (seenExtv || size != 0) {
                        throw in.record("'extv' block must appear once with size 0");
                    }
                }
                case LegacyFormat.EXT_BLOCK_XCNT -> {
                    if (seenXcnt || size != 4) {
                        throw in.record("'xcnt' block must appear once with size 4");
                    }
                }
                default -> throw in.record("unknown extended-info block '" + name + "'");
            }
            extRemaining -= size;
            in.field("EXT_BLOCK_DATA", size, g -> blockData(id, g));
        }

        private void blockData(int id, ByteBuffer f) throws StreamException {
            switch (id) {
                case LegacyFormat.EXT_BLOCK_VCPU -> vcpu = Bytes.of(f);
                case LegacyFormat.EXT_BLOCK_EXTV -> {
                    seenExtv = true;
                    extv = true;
                }
                default -> {
                    seenXcnt = true;
                    long v = f.getInt() & 0xFFFF_FFFFL;
                    if (v < LegacyFormat.XSAVE_RECORD_HEADER || v > in.limits().maxXsaveBytes()) {
                        throw in.record("xcnt xsave_len " + v + " out of range 16.." + in.limits().maxXsaveBytes());
                    }
                    xsaveLen = (int) v;
                }
            }
            nextBlock();
        }

        private void frames(ByteBuffer f) throws StreamException {
            long[] frames = new long[f.remaining() / in.width().bytes()];
            for (int i = 0; i < frames.length; i++) {
                long v = in.ulong(f);
                if (v < 0 || v >= p2mSize) {
                    throw in.record("p2m frame list entry " + i + " pfn 0x" + Long.toHexString(v) + " >= p2m_size 0x"
                            + Long.toHexString(p2mSize));
                }
                frames[i] = v;
            }
            then.accept(new PvHeader(p2mSize, vcpu, extv, xsaveLen, frames));
        }

        /** The guest width once the 'vcpu' block is read, else null. */
        Width guestWidth() {
            return vcpu == null ? null : guestWidthOf(vcpu.size());
        }

        private static String blockName(int id) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 4; i++) {
                int c = (id >>> (8 * i)) & 0xFF;
                sb.append(c >= 0x20 && c < 0x7F ? (char) c : '?');
            }
            return sb.toString();
        }
    }
}
