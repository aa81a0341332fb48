package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A page batch (docs/wire-format-legacy.md §5): {@code i32 count, ulong pfn_entry[count]}, then one 4 KiB page per
 * data-bearing entry (type not BROKEN/XALLOC/XTAB), in entry order. In Format B (after ENABLE_COMPRESSION, §11)
 * a batch carries no pages ({@link #pfnsOnly()}).
 *
 * <p>Pages are <b>views</b>, never per-page copies. A batch built for the writer views the caller's memory
 * (guest memory {@link MemorySegment}, buffers). A batch delivered by {@link LegacyStreamReader} views the buffer
 * passed to {@code feed} or the reader's internal accumulation buffer: <b>it is valid only until the consumer
 * callback returns</b> (and, for a view of the caller's buffer, as long as the caller leaves that buffer
 * unchanged). Use {@link #detach()} to keep a copy.
 *
 * <p>Entries are the low 32 bits of the on-wire ulong (bits 31..28 type, 27..0 PFN).
 */
public final class PageBatch implements LegacyItem {
    private final int[] entries;
    private final int[] dataIndex; // entry -> index of its page among data pages, or -1
    private final int dataCount;
    private final ByteBuffer contiguous; // dataCount pages back to back
    private final ByteBuffer[] pages;    // one view per data page
    private final MemorySegment guestMemory; // page of entry i at pfn(i) * 4096
    private final boolean pfnsOnly;
    private final boolean streamed; // reader with a PageListener: pages went to the listener

    private PageBatch(int[] entries, ByteBuffer contiguous, ByteBuffer[] pages, MemorySegment guestMemory,
                      boolean pfnsOnly) {
        this(entries, contiguous, pages, guestMemory, pfnsOnly, false);
    }

    private PageBatch(int[] entries, ByteBuffer contiguous, ByteBuffer[] pages, MemorySegment guestMemory,
                      boolean pfnsOnly, boolean streamed) {
        if (entries.length < 1 || entries.length > LegacyFormat.MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("a batch holds 1..1024 entries, not " + entries.length);
        }
        this.entries = entries;
        this.dataIndex = new int[entries.length];
        int n = 0;
        for (int i = 0; i < entries.length; i++) {
            dataIndex[i] = LegacyFormat.hasData(entries[i]) ? n++ : -1;
        }
        this.dataCount = n;
        this.contiguous = contiguous;
        this.pages = pages;
        this.guestMemory = guestMemory;
        this.pfnsOnly = pfnsOnly;
        this.streamed = streamed;
        if (contiguous != null && contiguous.remaining() != (long) n * LegacyFormat.PAGE_SIZE) {
            throw new IllegalArgumentException("need " + n + " pages of data, got " + contiguous.remaining() + " bytes");
        }
        if (pages != null) {
            if (pages.length != n) {
                throw new IllegalArgumentException("need " + n + " pages, got " + pages.length);
            }
            for (ByteBuffer p : pages) {
                if (p.remaining() != LegacyFormat.PAGE_SIZE) {
                    throw new IllegalArgumentException("a page is 4096 bytes, got " + p.remaining());
                }
            }
        }
        if (guestMemory != null) {
            for (int i = 0; i < entries.length; i++) {
                if (dataIndex[i] >= 0 && (pfn(i) + 1) * LegacyFormat.PAGE_SIZE > guestMemory.byteSize()) {
                    throw new IllegalArgumentException("pfn 0x" + Long.toHexString(pfn(i)) + " beyond guest memory");
                }
            }
        }
    }

    /** Entries with one view per data-bearing entry, in entry order (no copy; views are duplicated). */
    public static PageBatch of(int[] entries, ByteBuffer... pages) {
        ByteBuffer[] views = new ByteBuffer[pages.length];
        for (int i = 0; i < pages.length; i++) {
            views[i] = pages[i].duplicate();
        }
        return new PageBatch(entries.clone(), null, views, null, false);
    }

    /** Entries with the data pages back to back in one buffer (its remaining bytes; no copy). */
    public static PageBatch ofContiguous(int[] entries, ByteBuffer data) {
        return new PageBatch(entries.clone(), data.slice(), null, null, false);
    }

    /** Entries with the data pages back to back in one segment (no copy). */
    public static PageBatch ofContiguous(int[] entries, MemorySegment data) {
        return new PageBatch(entries.clone(), data.asByteBuffer(), null, null, false);
    }

    /**
     * Entries whose pages are at {@code pfn * 4096} in {@code guestMemory} (no copy; the writer hands out views,
     * coalescing consecutive PFNs). A sink that writes from another thread (Netty's event loop) needs a segment
     * of a shared or global arena: views of a confined segment fail on other threads.
     */
    public static PageBatch ofGuestMemory(int[] entries, MemorySegment guestMemory) {
        return new PageBatch(entries.clone(), null, null, guestMemory, false);
    }

    /** A Format B batch (checkpoint compression): PFN entries only, the pages travel in COMPRESSED_DATA. */
    public static PageBatch pfnsOnly(int[] entries) {
        return new PageBatch(entries.clone(), null, null, null, true);
    }

    /** Reader side: takes ownership of {@code entries}; {@code data} is a view (or null for Format B). */
    static PageBatch owned(int[] entries, ByteBuffer data) {
        return new PageBatch(entries, data, null, null, data == null);
    }

    /** Reader side with a {@link LegacyStreamReader.PageListener}: entries only, the pages follow one by one. */
    static PageBatch streamed(int[] entries) {
        return new PageBatch(entries, null, null, null, false, true);
    }

    /**
     * True for a batch delivered by a reader that has a {@link LegacyStreamReader.PageListener}: its pages go to
     * the listener right after this item, one by one, and {@link #page(int)} is not available.
     */
    public boolean pagesStreamed() {
        return streamed;
    }

    public int count() {
        return entries.length;
    }

    /** The 32-bit entry: type in bits 31..28, PFN in 27..0. */
    public int entry(int i) {
        return entries[i];
    }

    public int[] entries() {
        return entries.clone();
    }

    public long pfn(int i) {
        return entries[i] & LegacyFormat.PFN_MASK;
    }

    /** The type nibble (0x0–0xF). */
    public int typeNibble(int i) {
        return entries[i] >>> LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_SHIFT;
    }

    /** The page type, or null for the invalid nibbles 0x5–0x8. */
    public PageType type(int i) {
        return PageType.fromNibbleOrNull(typeNibble(i));
    }

    public boolean hasData(int i) {
        return dataIndex[i] >= 0;
    }

    /** Number of data-bearing entries. */
    public int dataCount() {
        return dataCount;
    }

    /** True for a Format B batch, which has no page data. */
    public boolean pfnsOnly() {
        return pfnsOnly;
    }

    /** Index among data pages of entry i, or −1. */
    public int dataIndex(int i) {
        return dataIndex[i];
    }

    /** A little-endian 4096-byte view of entry i's page (no copy). */
    public ByteBuffer page(int i) {
        int d = dataIndex[i];
        if (d < 0) {
            throw new IllegalArgumentException("entry " + i + " (type 0x" + Integer.toHexString(typeNibble(i))
                    + ") has no page data");
        }
        if (pfnsOnly) {
            throw new IllegalStateException("a Format B batch has no page data");
        }
        if (streamed) {
            throw new IllegalStateException("the pages of this batch went to the reader's PageListener");
        }
        ByteBuffer v;
        if (contiguous != null) {
            v = contiguous.slice(d * LegacyFormat.PAGE_SIZE, LegacyFormat.PAGE_SIZE);
        } else if (pages != null) {
            v = pages[d].duplicate();
        } else {
            v = guestMemory.asSlice(pfn(i) * LegacyFormat.PAGE_SIZE, LegacyFormat.PAGE_SIZE).asByteBuffer();
        }
        return v.order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Copies entry i's page into {@code dst} at {@code offset} (the receiver's single copy into guest memory). */
    public void copyPage(int i, MemorySegment dst, long offset) {
        MemorySegment.copy(MemorySegment.ofBuffer(page(i)), 0, dst, offset, LegacyFormat.PAGE_SIZE);
    }

    /** A copy whose pages live on the heap, independent of the reader's buffers. */
    public PageBatch detach() {
        if (streamed) {
            return this;
        }
        if (pfnsOnly) {
            return new PageBatch(entries.clone(), null, null, null, true);
        }
        ByteBuffer copy = ByteBuffer.allocate(dataCount * LegacyFormat.PAGE_SIZE);
        for (int i = 0; i < entries.length; i++) {
            if (dataIndex[i] >= 0) {
                copy.put(page(i));
            }
        }
        copy.flip();
        return new PageBatch(entries.clone(), copy, null, null, false);
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(4 + entries.length * width.bytes()).putInt(entries.length);
        for (int e : entries) {
            if ((e & LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_MASK) == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                e = LegacyFormat.XEN_DOMCTL_PFINFO_XTAB; // an XTAB entry goes out as exactly 0xF0000000
            }
            Wire.putUlong(b, width, e & 0xFFFF_FFFFL);
        }
        Wire.send(sink, b);
        writePages(sink);
    }

    /**
     * Hands the page data to {@code sink} as views in as few writes as possible (contiguous data in one write,
     * consecutive guest PFNs coalesced).
     */
    private void writePages(ByteSink sink) throws IOException {
        if (pfnsOnly || dataCount == 0) {
            return;
        }
        if (contiguous != null) {
            sink.write(contiguous.duplicate());
        } else if (pages != null) {
            for (ByteBuffer p : pages) {
                sink.write(p.duplicate());
            }
        } else {
            int i = 0;
            while (i < entries.length) {
                if (dataIndex[i] < 0) {
                    i++;
                    continue;
                }
                long start = pfn(i);
                int run = 1;
                int j = i + 1;
                while (j < entries.length) {
                    if (dataIndex[j] < 0) {
                        j++; // no bytes on the wire
                    } else if (pfn(j) == start + run) {
                        run++;
                        j++;
                    } else {
                        break;
                    }
                }
                // entries i..j-1 hold `run` data pages at consecutive PFNs start..start+run-1
                sink.write(guestMemory.asSlice(start * LegacyFormat.PAGE_SIZE, (long) run * LegacyFormat.PAGE_SIZE)
                        .asByteBuffer());
                i = j;
            }
        }
    }

    /**
     * Checks a batch for the writer: no invalid type (0x5–0x8), every PFN below {@code p2mSize} (XTAB entries, whatever
     * their PFN bits, aside), not only XTAB entries, no PFN twice.
     *
     * @param scratch room for 1024 PFNs
     * @throws IllegalArgumentException naming the first problem
     */
    void checkWritable(long p2mSize, int[] scratch) {
        int distinct = 0;
        for (int i = 0; i < entries.length; i++) {
            int e = entries[i];
            if (LegacyFormat.isInvalidType(e)) {
                throw new IllegalArgumentException("entry " + i + " has invalid page type 0x" + Integer.toHexString(e >>> 28));
            }
            if ((e & LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_MASK) == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                continue;
            }
            if ((e & LegacyFormat.PFN_MASK) >= p2mSize) {
                throw new IllegalArgumentException("entry " + i + " pfn 0x" + Integer.toHexString(e & LegacyFormat.PFN_MASK)
                        + " >= p2m_size 0x" + Long.toHexString(p2mSize));
            }
            scratch[distinct++] = e & LegacyFormat.PFN_MASK;
        }
        if (distinct == 0) {
            throw new IllegalArgumentException("a batch of only XTAB entries must not be written");
        }
        int dup = duplicate(scratch, distinct);
        if (dup >= 0) {
            throw new IllegalArgumentException("duplicate pfn 0x" + Integer.toHexString(dup) + " in batch");
        }
    }

    /**
     * Reads the PFN array of a batch of {@code count} entries (§5.1), checking each entry as it comes: no bits above
     * 31, no type nibble 0x5–0x7, a PFN below {@code p2mSize} (the exact XTAB entry 0xF0000000 aside). What libxc's
     * restore accepts although no sender writes it is accepted with a warning: nibble 0x8 (the pin bit on a plain
     * page) becomes a plain page, a batch of only bare XTAB entries does nothing, and a PFN may stand twice (the
     * later page counts).
     *
     * @param scratch room for 1024 PFNs
     */
    static int[] readEntries(Framer in, ByteBuffer f, int count, long p2mSize, int[] scratch) throws RecordException {
        int[] entries = new int[count];
        int distinct = 0;
        for (int i = 0; i < count; i++) {
            long v = in.ulong(f);
            if ((v >>> 32) != 0) {
                throw in.record("entry " + i + " 0x" + Long.toHexString(v) + " has bits above 31 set");
            }
            int e = (int) v;
            if ((e & LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_MASK) == LegacyFormat.XEN_DOMCTL_PFINFO_LPINTAB) {
                // libxc masks the type with LTABTYPE_MASK: NOTAB, a plain page (nothing to pin)
                in.warn(LegacyStreamReader.Leniency.PINNED_PLAIN_PAGE, "entry " + i + " pfn 0x"
                        + Integer.toHexString(e & LegacyFormat.PFN_MASK) + " has page type 0x8: taken as a plain page");
                e &= LegacyFormat.PFN_MASK;
            } else if (LegacyFormat.isInvalidType(e)) {
                throw in.record("entry " + i + " has invalid page type 0x" + Integer.toHexString(e >>> 28));
            }
            entries[i] = e;
            if (e == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                continue;
            }
            int pfn = e & LegacyFormat.PFN_MASK;
            if (pfn >= p2mSize) {
                throw in.record("entry " + i + " pfn 0x" + Integer.toHexString(pfn) + " >= p2m_size 0x"
                        + Long.toHexString(p2mSize));
            }
            scratch[distinct++] = pfn;
        }
        if (distinct == 0) {
            in.warn(LegacyStreamReader.Leniency.XTAB_ONLY_BATCH, "batch holds only XTAB (0xf0000000) entries:"
                    + " nothing to do");
            return entries;
        }
        int dup = duplicate(scratch, distinct);
        if (dup >= 0) {
            in.warn(LegacyStreamReader.Leniency.DUPLICATE_PFN, "pfn 0x" + Integer.toHexString(dup)
                    + " stands twice in the batch: the later entry counts");
        }
        return entries;
    }

    /** A PFN that stands twice among the first {@code n} of {@code pfns} (which it sorts), or −1. */
    private static int duplicate(int[] pfns, int n) {
        Arrays.sort(pfns, 0, n);
        for (int i = 1; i < n; i++) {
            if (pfns[i] == pfns[i - 1]) {
                return pfns[i];
            }
        }
        return -1;
    }

    @Override
    public String itemName() {
        return "PAGE_BATCH";
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PageBatch b) || b.pfnsOnly != pfnsOnly || b.streamed != streamed
                || !Arrays.equals(b.entries, entries)) {
            return false;
        }
        if (pfnsOnly || streamed) {
            return true;
        }
        for (int i = 0; i < entries.length; i++) {
            if (dataIndex[i] >= 0 && MemorySegment.ofBuffer(page(i)).mismatch(MemorySegment.ofBuffer(b.page(i))) != -1) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = Arrays.hashCode(entries);
        if (!pfnsOnly && !streamed && dataCount > 0) {
            for (int i = 0; i < entries.length; i++) {
                if (dataIndex[i] >= 0) {
                    h = 31 * h + Long.hashCode(MemorySegment.ofBuffer(page(i)).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
                }
            }
        }
        return h;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("PageBatch[count=").append(entries.length).append(", data=")
                .append(dataCount).append(pfnsOnly ? ", pfnsOnly" : "").append(streamed ? ", streamed" : "").append(", entries=");
        for (int i = 0; i < Math.min(4, entries.length); i++) {
            sb.append(i == 0 ? "" : ",").append(String.format("%08x", entries[i]));
        }
        return sb.append(entries.length > 4 ? ",…]" : "]").toString();
    }
}
