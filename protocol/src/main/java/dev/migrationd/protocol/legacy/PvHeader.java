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
 * <p>Every Xen 4.x sender writes the {@code "vcpu"} block. An image without extended info (before Xen 3.0), or
 * with extended info but no {@code "vcpu"} block, has no vcpu0 context here ({@code vcpuContext} null): libxc's
 * restore then takes the guest width to be the toolstack width W, and so does the reader. Such a header is written
 * back without extended info when it has neither {@code extv} nor {@code xcnt}, else with the blocks it has.
 *
 * @param guestWidth  GW: from the {@code "vcpu"} block's size (0x1430 → 64-bit, 0xAF0 → 32-bit PAE), else W
 * @param vcpuContext the {@code "vcpu"} block, or null when the stream had none
 * @param xsaveLen    the {@code xcnt} value (16 + xcr0 pair + XSAVE area), or 0 when the block is absent
 */
public record PvHeader(long p2mSize, Width guestWidth, Bytes vcpuContext, boolean extv, int xsaveLen,
                       long[] p2mFrames) implements LegacyItem {
    public PvHeader {
        LegacyFormat.checkP2mSize(p2mSize);
        Objects.requireNonNull(guestWidth, "guestWidth");
        if (vcpuContext != null) {
            if (vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64
                    && vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
                throw new IllegalArgumentException("vcpu context must be 0x1430 or 0xAF0 bytes, not 0x"
                        + Integer.toHexString(vcpuContext.size()));
            }
            if (guestWidthOf(vcpuContext.size()) != guestWidth) {
                throw new IllegalArgumentException("a vcpu context of 0x" + Integer.toHexString(vcpuContext.size())
                        + " bytes is not a " + guestWidth.bits() + "-bit guest's");
            }
        }
        if (xsaveLen < 0 || (xsaveLen != 0 && xsaveLen < LegacyFormat.XSAVE_RECORD_HEADER)) {
            throw new IllegalArgumentException("xsaveLen must be 0 (absent) or >= 16: " + xsaveLen);
        }
        p2mFrames = p2mFrames.clone();
        long n = LegacyFormat.p2mFrameCount(p2mSize, guestWidth);
        if (p2mFrames.length != n) {
            throw new IllegalArgumentException("p2m frame list needs " + n + " entries, got " + p2mFrames.length);
        }
    }

    /** The header every Xen 4.x sender writes: with the {@code "vcpu"} block, whose size gives the guest width. */
    public PvHeader(long p2mSize, Bytes vcpuContext, boolean extv, int xsaveLen, long[] p2mFrames) {
        this(p2mSize, guestWidthOf(Objects.requireNonNull(vcpuContext, "vcpuContext").size()), vcpuContext, extv,
                xsaveLen, p2mFrames);
    }

    /** Whether the extended info is written: with any of its blocks. */
    public boolean hasExtInfo() {
        return vcpuContext != null || extv || xsaveLen != 0;
    }

    /** The size of each tail vCPU record's context: that of the guest width. */
    public int vcpuContextSize() {
        return LegacyFormat.vcpuContextSize(guestWidth);
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

    /** The extended-info {@code total} as the sender writes it (0 without extended info). */
    public int extInfoTotal() {
        return (vcpuContext != null ? vcpuContext.size() + 8 : 0) + (extv ? 8 : 0) + (xsaveLen != 0 ? 12 : 0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PvHeader h && h.p2mSize == p2mSize && h.guestWidth == guestWidth
                && Objects.equals(h.vcpuContext, vcpuContext)
                && h.extv == extv && h.xsaveLen == xsaveLen && Arrays.equals(h.p2mFrames, p2mFrames);
    }

    @Override
    public int hashCode() {
        return Objects.hash(p2mSize, guestWidth, vcpuContext, extv, xsaveLen, Arrays.hashCode(p2mFrames));
    }

    @Override
    public String toString() {
        return "PvHeader[p2mSize=0x" + Long.toHexString(p2mSize) + ", guestWidth=" + guestWidth
                + (vcpuContext == null ? ", no vcpu block" : "") + ", extv=" + extv + ", xsaveLen=" + xsaveLen
                + ", p2mFrames=" + p2mFrames.length + "]";
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
        if (vcpuContext == null && guestWidth != width) {
            throw new IllegalArgumentException("a header without the 'vcpu' block has GW = W: a " + guestWidth.bits()
                    + "-bit guest cannot go in a " + width.bits() + "-bit stream");
        }
        int total = extInfoTotal();
        boolean ext = hasExtInfo();
        ByteBuffer b = Wire.alloc(width.bytes() * (ext ? 2 : 1) + (ext ? 4 : 0) + total
                + p2mFrames.length * width.bytes());
        Wire.putUlong(b, width, p2mSize);
        if (ext) {
            Wire.putUlong(b, width, -1L);
            b.putInt(total);
        }
        if (vcpuContext != null) {
            b.putInt(LegacyFormat.EXT_BLOCK_VCPU).putInt(vcpuContext.size());
            vcpuContext.copyTo(b);
        }
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
     * checked before its data is read), then the p2m frame list, every PFN below p2m_size. As libxc's restore does,
     * it takes a first word other than ~0 as the first frame-list entry of an image without extended info, skips
     * unknown blocks and the data of an {@code extv} block, and lets a repeated block replace the earlier one; each
     * of these with a warning.
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
        private boolean done;

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
                // libxc: no extended info; this word is the first frame-list entry and GW = W
                in.warn(LegacyStreamReader.Leniency.NO_VCPU_BLOCK, "no extended-info signature (an image from before"
                        + " Xen 3.0): guest width taken as the toolstack's " + in.width().bits() + " bits");
                long first = frame(0, sig);
                long rest = LegacyFormat.p2mFrameCount(p2mSize, in.width()) - 1;
                in.field("P2M_FRAMES", rest * in.width().bytes(), g -> {
                    long[] frames = new long[(int) rest + 1];
                    frames[0] = first;
                    for (int i = 1; i < frames.length; i++) {
                        frames[i] = frame(i, in.ulong(g));
                    }
                    finish(frames);
                });
                return;
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
                    in.warn(LegacyStreamReader.Leniency.NO_VCPU_BLOCK, "extended info has no 'vcpu' block: guest"
                            + " width taken as the toolstack's " + in.width().bits() + " bits");
                }
                in.field("P2M_FRAMES", LegacyFormat.p2mFrameCount(p2mSize, width()) * in.width().bytes(),
                        this::frames);
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
                    if (size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64 && size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
                        throw in.record("'vcpu' block of 0x" + Long.toHexString(size) + " bytes (must be 0x1430 or 0xaf0)");
                    }
                    repeated(vcpu != null, name);
                }
                case LegacyFormat.EXT_BLOCK_EXTV -> {
                    repeated(seenExtv, name);
                    if (size != 0) {
                        in.warn(LegacyStreamReader.Leniency.EXTV_WITH_DATA, "'extv' block of " + size
                                + " bytes: its data skipped");
                    }
                }
                case LegacyFormat.EXT_BLOCK_XCNT -> {
                    // libxc reads 4 bytes whatever the size and counts the size: any other size loses the framing
                    if (size != 4) {
                        throw in.record("'xcnt' block must have size 4, not " + size);
                    }
                    repeated(seenXcnt, name);
                }
                default -> in.warn(LegacyStreamReader.Leniency.UNKNOWN_EXT_BLOCK, "unknown extended-info block '"
                        + name + "' of " + size + " bytes skipped");
            }
            extRemaining -= size;
            in.field("EXT_BLOCK_DATA", size, g -> blockData(id, g));
        }

        private void repeated(boolean seen, String name) {
            if (seen) {
                in.warn(LegacyStreamReader.Leniency.REPEATED_EXT_BLOCK, "extended-info block '" + name
                        + "' given again: the later one counts");
            }
        }

        private void blockData(int id, ByteBuffer f) throws StreamException {
            switch (id) {
                case LegacyFormat.EXT_BLOCK_VCPU -> vcpu = Bytes.of(f);
                case LegacyFormat.EXT_BLOCK_EXTV -> {
                    seenExtv = true;
                    extv = true;
                }
                case LegacyFormat.EXT_BLOCK_XCNT -> {
                    seenXcnt = true;
                    long v = f.getInt() & 0xFFFF_FFFFL;
                    if (v < LegacyFormat.XSAVE_RECORD_HEADER || v > in.limits().maxXsaveBytes()) {
                        throw in.record("xcnt xsave_len " + v + " out of range 16.." + in.limits().maxXsaveBytes());
                    }
                    xsaveLen = (int) v;
                }
                default -> {
                    // an unknown block: its data is skipped, as libxc does
                }
            }
            nextBlock();
        }

        private void frames(ByteBuffer f) throws StreamException {
            long[] frames = new long[f.remaining() / in.width().bytes()];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = frame(i, in.ulong(f));
            }
            finish(frames);
        }

        private long frame(int i, long v) throws StreamException {
            if (v < 0 || v >= p2mSize) {
                throw in.record("p2m frame list entry " + i + " pfn 0x" + Long.toHexString(v) + " >= p2m_size 0x"
                        + Long.toHexString(p2mSize));
            }
            return v;
        }

        private void finish(long[] frames) throws StreamException {
            done = true;
            then.accept(new PvHeader(p2mSize, width(), vcpu, extv, xsaveLen, frames));
        }

        /** GW: from the 'vcpu' block, else (libxc's assumption) the toolstack width. */
        private Width width() {
            return vcpu != null ? guestWidthOf(vcpu.size()) : in.width();
        }

        /** The guest width once known (the 'vcpu' block read, or the header complete), else null. */
        Width guestWidth() {
            return vcpu != null || done ? width() : null;
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
