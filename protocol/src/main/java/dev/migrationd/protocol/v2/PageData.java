package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * PAGE_DATA (0x01): a batch of PFN entries and the pages of the data-bearing ones.
 * <pre>
 *  0       4       8                 8+8c
 * +-------+-------+-- ... ----------+------------------------------+
 * | count | res 0 | u64 pfn[count]  | page[N][4096]                |
 * +-------+-------+-- ... ----------+------------------------------+
 * pfn entry:  bits 63..60 type nibble | 59..52 reserved 0 | 51..0 PFN
 * N = entries of type 0x0-0x4 or 0x9-0xC; types 0x5-0x8 are invalid; length = 8 + 8c + 4096N exactly.
 * </pre>
 * Pages are views, never copies: over the reader's input, or over the caller's buffers or
 * {@link MemorySegment}s for a batch to write. {@link #page(int)} returns a fresh read-only view.
 */
public final class PageData implements LibxcRecord {
    private final long[] entries;
    /** Per entry: its page view, or null when the entry's type carries no data. */
    private final ByteBuffer[] pages;
    private final int dataPages;
    /** All data pages back to back (one view), or null when they are separate buffers. */
    private final ByteBuffer contiguous;

    private PageData(long[] entries, ByteBuffer[] pages, int dataPages, ByteBuffer contiguous) {
        this.entries = entries;
        this.pages = pages;
        this.dataPages = dataPages;
        this.contiguous = contiguous;
    }

    /** A v2 PFN entry: {@code type << 60 | pfn}. */
    public static long entry(PageType type, long pfn) {
        if (pfn < 0 || pfn > V2Format.PAGE_DATA_PFN_MASK) {
            throw new IllegalArgumentException("pfn " + Long.toHexString(pfn) + " exceeds 52 bits");
        }
        return ((long) type.nibble() << V2Format.PAGE_DATA_TYPE_SHIFT) | pfn;
    }

    /**
     * A batch to write. {@code dataPages} holds one 4096-octet buffer per data-bearing entry, in
     * entry order; the buffers are wrapped as views (their remaining octets), not copied.
     */
    public static PageData of(long[] entries, ByteBuffer... dataPages) {
        if (entries.length == 0 || entries.length > StreamLimits.MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("a batch has 1.." + StreamLimits.MAX_BATCH_SIZE + " entries, not "
                    + entries.length);
        }
        long[] copy = entries.clone();
        ByteBuffer[] pages = new ByteBuffer[copy.length];
        int k = 0;
        for (int i = 0; i < copy.length; i++) {
            PageType t = checkEntry(copy[i]);
            if (t == null) {
                throw new IllegalArgumentException("invalid entry " + i + ": 0x" + Long.toHexString(copy[i]));
            }
            if (t.hasData()) {
                if (k >= dataPages.length) {
                    throw new IllegalArgumentException("fewer pages than data-bearing entries");
                }
                ByteBuffer p = dataPages[k++];
                if (p.remaining() != V2Format.PAGE_SIZE) {
                    throw new IllegalArgumentException("page " + (k - 1) + " has " + p.remaining() + " bytes");
                }
                pages[i] = Bodies.view(p);
            }
        }
        if (k != dataPages.length) {
            throw new IllegalArgumentException(dataPages.length + " pages for " + k + " data-bearing entries");
        }
        return new PageData(copy, pages, k, null);
    }

    /**
     * A batch to write whose data pages lie back to back in {@code data} (e.g. a run of guest frames): one view
     * goes to the sink for all of them.
     */
    public static PageData ofContiguous(long[] entries, MemorySegment data) {
        ByteBuffer all = Bodies.view(data.asByteBuffer());
        int n = all.remaining() / V2Format.PAGE_SIZE;
        if (all.remaining() % V2Format.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("contiguous page data of " + all.remaining() + " bytes");
        }
        ByteBuffer[] views = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            views[i] = Bodies.view(all, i * V2Format.PAGE_SIZE, V2Format.PAGE_SIZE);
        }
        PageData d = of(entries, views);
        return new PageData(d.entries, d.pages, d.dataPages, all);
    }

    /** As {@link #of(long[], ByteBuffer...)} with pages in native memory (e.g. mapped guest frames). */
    public static PageData ofSegments(long[] entries, MemorySegment... dataPages) {
        ByteBuffer[] views = new ByteBuffer[dataPages.length];
        for (int i = 0; i < dataPages.length; i++) {
            views[i] = dataPages[i].asByteBuffer();
        }
        return of(entries, views);
    }

    /** The page type of a raw entry, or null when reserved bits are set or the nibble is 5–8. */
    static PageType checkEntry(long e) {
        if ((e & V2Format.PAGE_DATA_PFN_RESZ_MASK) != 0) {
            return null;
        }
        return PageType.fromNibbleOrNull((int) (e >>> V2Format.PAGE_DATA_TYPE_SHIFT));
    }

    static PageData read(ByteBuffer body, long offset, StreamLimits limits) throws RecordException {
        RecordType t = RecordType.PAGE_DATA;
        int len = body.remaining();
        if (len <= V2Format.PAGE_DATA_HEADER_SIZE) {
            throw Bodies.bad(t, offset, "length " + len + " leaves no room for a pfn");
        }
        long count = Integer.toUnsignedLong(body.getInt(0));
        if (body.getInt(4) != 0) {
            throw Bodies.bad(t, offset, "reserved field not zero");
        }
        if (count == 0 || count > limits.maxBatchEntries()) {
            throw Bodies.bad(t, offset, "count " + count + " not in 1.." + limits.maxBatchEntries());
        }
        if (V2Format.PAGE_DATA_HEADER_SIZE + 8 * count > len) {
            throw Bodies.bad(t, offset, "length " + len + " too short for " + count + " pfns");
        }
        int n = (int) count;
        long[] entries = new long[n];
        int data = 0;
        for (int i = 0; i < n; i++) {
            long e = body.getLong(V2Format.PAGE_DATA_HEADER_SIZE + 8 * i);
            if ((e & V2Format.PAGE_DATA_PFN_RESZ_MASK) != 0) {
                throw Bodies.bad(t, offset, "reserved bits set in pfn[" + i + "]: " + Bodies.hex(e));
            }
            PageType type = PageType.fromNibbleOrNull((int) (e >>> V2Format.PAGE_DATA_TYPE_SHIFT));
            if (type == null) {
                throw Bodies.bad(t, offset, "invalid type " + Bodies.hex(e >>> V2Format.PAGE_DATA_TYPE_SHIFT)
                        + " in pfn[" + i + "]");
            }
            long pfn = e & V2Format.PAGE_DATA_PFN_MASK;
            if (pfn >= limits.maxP2mSize()) {
                throw Bodies.bad(t, offset, "pfn[" + i + "] " + Bodies.hex(pfn) + " not below the p2m limit "
                        + Bodies.hex(limits.maxP2mSize()));
            }
            entries[i] = e;
            if (type.hasData()) {
                data++;
            }
        }
        long expected = V2Format.PAGE_DATA_HEADER_SIZE + 8L * n + (long) V2Format.PAGE_SIZE * data;
        if (len != expected) {
            throw Bodies.bad(t, offset, "length " + len + ", expected 8 + " + 8L * n + " + " + 4096L * data);
        }
        ByteBuffer[] pages = new ByteBuffer[n];
        int first = V2Format.PAGE_DATA_HEADER_SIZE + 8 * n;
        int at = first;
        for (int i = 0; i < n; i++) {
            if (PageType.fromNibble((int) (entries[i] >>> V2Format.PAGE_DATA_TYPE_SHIFT)).hasData()) {
                pages[i] = Bodies.view(body, at, V2Format.PAGE_SIZE);
                at += V2Format.PAGE_SIZE;
            }
        }
        ByteBuffer all = data == 0 ? null : Bodies.view(body, first, data * V2Format.PAGE_SIZE);
        return new PageData(entries, pages, data, all);
    }

    @Override
    public RecordType type() {
        return RecordType.PAGE_DATA;
    }

    /** Number of PFN entries. */
    public int count() {
        return entries.length;
    }

    /** Number of entries that carry a page. */
    public int dataPageCount() {
        return dataPages;
    }

    /** Raw 64-bit entry {@code i}. */
    public long entry(int i) {
        return entries[i];
    }

    public long pfn(int i) {
        return entries[i] & V2Format.PAGE_DATA_PFN_MASK;
    }

    public PageType pageType(int i) {
        return PageType.fromNibble((int) (entries[i] >>> V2Format.PAGE_DATA_TYPE_SHIFT));
    }

    /** A copy of the entry array. */
    public long[] entries() {
        return entries.clone();
    }

    /** A fresh read-only view of entry {@code i}'s page; throws if its type carries no data. */
    public ByteBuffer page(int i) {
        ByteBuffer p = pages[i];
        if (p == null) {
            throw new IllegalArgumentException("entry " + i + " of type " + pageType(i) + " has no page");
        }
        return Bodies.view(p);
    }

    @Override
    public int fixedLength() {
        return V2Format.PAGE_DATA_HEADER_SIZE + 8 * entries.length;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(entries.length).putInt(0);
        for (long e : entries) {
            out.putLong(e);
        }
    }

    @Override
    public ByteBuffer[] payload() {
        if (contiguous != null) {
            return new ByteBuffer[] {Bodies.view(contiguous)};
        }
        ByteBuffer[] out = new ByteBuffer[dataPages];
        int k = 0;
        for (ByteBuffer p : pages) {
            if (p != null) {
                out[k++] = Bodies.view(p);
            }
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PageData d && Arrays.equals(d.entries, entries) && Arrays.equals(d.pages, pages);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(entries);
    }

    @Override
    public String toString() {
        return "PageData[count=" + entries.length + ", pages=" + dataPages + "]";
    }
}
