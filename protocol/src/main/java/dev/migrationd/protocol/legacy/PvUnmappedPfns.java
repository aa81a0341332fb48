package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** {@code u32 nr_unmapped, ulong unmapped_pfn[nr_unmapped]}. */
public record PvUnmappedPfns(long[] pfns) implements LegacyItem {
    static final String ITEM = "PV_TAIL_UNMAPPED_PFNS";

    public PvUnmappedPfns {
        pfns = pfns.clone();
    }

    @Override
    public long[] pfns() {
        return pfns.clone();
    }

    public int count() {
        return pfns.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PvUnmappedPfns u && Arrays.equals(u.pfns, pfns);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(pfns);
    }

    @Override
    public String toString() {
        return "PvUnmappedPfns[" + pfns.length + "]";
    }

    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(4 + pfns.length * width.bytes()).putInt(pfns.length);
        for (long p : pfns) {
            Wire.putUlong(b, width, p);
        }
        Wire.send(sink, b);
    }

    /** Reads {@code u32 nr_unmapped} (at most the limit and p2m_size), then the PFNs, each below p2m_size. */
    static void read(Framer in, long p2mSize, Framer.Then<? super PvUnmappedPfns> then) throws StreamException {
        in.field("PV_NR_UNMAPPED", 4, f -> {
            long n = f.getInt() & 0xFFFF_FFFFL;
            long max = Math.min(in.limits().maxUnmappedPfns(), p2mSize);
            if (n > max) {
                throw in.fatal("nr_unmapped " + n + " exceeds " + max);
            }
            in.field("PV_UNMAPPED", n * in.width().bytes(), u -> {
                long[] pfns = new long[u.remaining() / in.width().bytes()];
                for (int i = 0; i < pfns.length; i++) {
                    long v = in.ulong(u);
                    if (v < 0 || v >= p2mSize) {
                        throw in.record("unmapped pfn " + i + " 0x" + Long.toHexString(v) + " >= p2m_size");
                    }
                    pfns[i] = v;
                }
                then.accept(new PvUnmappedPfns(pfns));
            });
        });
    }
}
