package dev.migrationd.protocol.v2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Collects exactly {@code need} octets from pushed input. When the whole span is inside one input
 * buffer it is returned as a slice of that buffer (no copy); otherwise the octets are gathered in a
 * buffer that grows with what has actually arrived (so a huge declared length costs memory only as
 * data comes), and a fresh buffer is used for every span (a completed span may be held by the caller).
 */
final class Assembler {
    /** First size of a gathering buffer. */
    static final int INITIAL_GATHER = 64 * 1024;

    private int need;
    private ByteBuffer acc;

    void start(int need) {
        this.need = need;
        this.acc = null;
    }

    /** Octets gathered so far of the current span. */
    int have() {
        return acc == null ? 0 : acc.position();
    }

    int need() {
        return need;
    }

    /**
     * Takes what it can from {@code in} (advancing its position). Returns the complete span
     * (little-endian, position 0, limit need) or null when more input is needed.
     */
    ByteBuffer offer(ByteBuffer in) {
        if (acc == null && in.remaining() >= need) {
            ByteBuffer span = in.slice(in.position(), need).order(ByteOrder.LITTLE_ENDIAN);
            in.position(in.position() + need);
            return span;
        }
        if (acc == null) {
            acc = ByteBuffer.allocate(Math.min(need, INITIAL_GATHER));
        }
        while (in.hasRemaining() && acc.position() < need) {
            if (!acc.hasRemaining()) {
                int cap = (int) Math.min(need, Math.max(16L, 2L * acc.capacity()));
                ByteBuffer bigger = ByteBuffer.allocate(cap);
                bigger.put(acc.flip());
                acc = bigger;
            }
            int n = Math.min(in.remaining(), acc.remaining());
            acc.put(acc.position(), in, in.position(), n);
            acc.position(acc.position() + n);
            in.position(in.position() + n);
        }
        if (acc.position() < need) {
            return null;
        }
        ByteBuffer span = acc.flip().order(ByteOrder.LITTLE_ENDIAN);
        acc = null;
        return span;
    }
}
