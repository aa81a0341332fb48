package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * X86_PV_P2M_FRAMES (0x03): the PFNs of the pages holding the guest's p2m for guest PFNs
 * {@code startPfn..endPfn} inclusive.
 * <pre>
 *  0         4         8               16
 * +---------+---------+---------------+-- ... --+
 * | start   | end     | p2m_pfn[0]    |  ...    |   u32, u32, u64[]
 * +---------+---------+---------------+-- ... --+
 * </pre>
 */
public final class X86PvP2mFrames implements LibxcRecord {
    private final long startPfn;
    private final long endPfn;
    private final long[] frames;

    /** @param startPfn u32 @param endPfn u32, not below startPfn */
    public X86PvP2mFrames(long startPfn, long endPfn, long[] frames) {
        if (startPfn < 0 || startPfn > 0xFFFF_FFFFL || endPfn < startPfn || endPfn > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("bad p2m range " + startPfn + ".." + endPfn);
        }
        this.startPfn = startPfn;
        this.endPfn = endPfn;
        this.frames = frames.clone();
    }

    public long startPfn() {
        return startPfn;
    }

    public long endPfn() {
        return endPfn;
    }

    public int frameCount() {
        return frames.length;
    }

    public long frame(int i) {
        return frames[i];
    }

    public long[] frames() {
        return frames.clone();
    }

    @Override
    public RecordType type() {
        return RecordType.X86_PV_P2M_FRAMES;
    }

    static X86PvP2mFrames read(ByteBuffer body, long offset, StreamLimits limits) throws RecordException {
        int len = body.remaining();
        if (len < V2Format.X86_PV_P2M_FRAMES_HDR_SIZE || len % 8 != 0) {
            throw Bodies.bad(RecordType.X86_PV_P2M_FRAMES, offset,
                    "length " + len + " is not a multiple of 8 of at least 8");
        }
        long start = Integer.toUnsignedLong(body.getInt(0));
        long end = Integer.toUnsignedLong(body.getInt(4));
        if (end < start) {
            throw Bodies.bad(RecordType.X86_PV_P2M_FRAMES, offset, "end pfn " + Bodies.hex(end)
                    + " below start pfn " + Bodies.hex(start));
        }
        if (end >= limits.maxP2mSize()) {
            throw Bodies.bad(RecordType.X86_PV_P2M_FRAMES, offset, "end pfn " + Bodies.hex(end)
                    + " not below the p2m limit " + Bodies.hex(limits.maxP2mSize()));
        }
        long[] frames = new long[(len - 8) / 8];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = body.getLong(8 + 8 * i);
        }
        return new X86PvP2mFrames(start, end, frames);
    }

    @Override
    public int fixedLength() {
        return V2Format.X86_PV_P2M_FRAMES_HDR_SIZE + 8 * frames.length;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt((int) startPfn).putInt((int) endPfn);
        for (long f : frames) {
            out.putLong(f);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof X86PvP2mFrames f && f.startPfn == startPfn && f.endPfn == endPfn
                && Arrays.equals(f.frames, frames);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(startPfn) * 31 + Long.hashCode(endPfn) * 17 + Arrays.hashCode(frames);
    }

    @Override
    public String toString() {
        return "X86PvP2mFrames[start=" + startPfn + ", end=" + endPfn + ", frames=" + frames.length + "]";
    }
}
