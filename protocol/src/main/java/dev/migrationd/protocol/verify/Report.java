package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.legacy.XlSaveHeader;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What {@link StreamVerifier} found in a valid stream: its format, widths and guest type, the items (chunks or
 * records) with their counts and bytes, the pages by type and per checkpoint, and facts about the tail. Filled
 * in by the one thread that reads the stream and not changed once {@link StreamVerifier#verify} has returned it;
 * the collections it returns are read-only views.
 */
public final class Report {

    /** Where a fact came from. */
    public enum Source {
        /** The caller gave it ({@link StreamVerifier.Options}). */
        GIVEN,
        /** Detected from the stream's first octets. */
        DETECTED,
        /** Assumed: the stream was too short to tell. */
        DEFAULT,
        /** Read from a v2 stream's domain header. */
        DOMAIN_HEADER
    }

    /** How often an item occurred and how many bytes it took, framing included. */
    public record ItemCount(long count, long bytes) {
    }

    private final DetectedStream.Kind kind;
    private final DetectedStream.Wrapper toolstackHeader;
    private final XlSaveHeader xlHeader;
    private final Width toolstackWidth;
    private final Source toolstackWidthSource;
    private GuestType guestType;
    private Source guestTypeSource;
    private Width guestWidth;
    private long p2mSize = -1;
    private long totalBytes;
    private int checkpoints;
    /** Per item name: {count, bytes}, in order of first appearance. */
    private final Map<String, long[]> items = new LinkedHashMap<>();
    private final Map<PageType, Long> pages = new EnumMap<>(PageType.class);
    /** Page entries per checkpoint, in order. */
    private final List<Long> pagesPerCheckpoint = new ArrayList<>();
    private long pagesThisCheckpoint;
    /** Tail facts, in order. */
    private final Map<String, Object> tail = new LinkedHashMap<>();

    Report(DetectedStream d) {
        this.kind = d.kind();
        this.toolstackHeader = d.wrapper();
        this.toolstackWidth = d.toolstackWidth();
        this.toolstackWidthSource = d.widthSource();
        this.guestType = d.guestType();
        this.guestTypeSource = d.guestSource();
        if (d.streamStart() > 0) {
            tail.put("toolstack_header_bytes", d.streamStart());
        }
        this.xlHeader = d.xlHeader();
        if (xlHeader != null) {
            tail.put("xl_mandatory_flags", "0x" + Integer.toHexString(xlHeader.mandatoryFlags()));
            tail.put("xl_optional_flags", "0x" + Integer.toHexString(xlHeader.optionalFlags()));
            tail.put("xl_optional_data_bytes", (long) xlHeader.optionalDataBytes());
            tail.put("xl_config", xlHeader.config() == null ? "none"
                    : (xlHeader.json() ? "libxl JSON, " : "xl config-file text, ") + xlHeader.config().length + " bytes");
        }
    }

    // ---- filled in while reading --------------------------------------------------------------------------

    void item(String name, long bytes) {
        long[] c = items.computeIfAbsent(name, k -> new long[2]);
        c[0]++;
        c[1] += bytes;
    }

    void page(PageType t, long n) {
        pages.merge(t, n, Long::sum);
        pagesThisCheckpoint += n;
    }

    /** Closes the current checkpoint's page count. */
    void endCheckpoint() {
        pagesPerCheckpoint.add(pagesThisCheckpoint);
        pagesThisCheckpoint = 0;
    }

    /** The number of checkpoints closed so far. */
    int checkpointsClosed() {
        return pagesPerCheckpoint.size();
    }

    void guestType(GuestType type, Source source) {
        this.guestType = type;
        this.guestTypeSource = source;
    }

    void guestWidth(Width width) {
        this.guestWidth = width;
    }

    void p2mSize(long pfns) {
        this.p2mSize = pfns;
    }

    void totalBytes(long bytes) {
        this.totalBytes = bytes;
    }

    void checkpoints(int n) {
        this.checkpoints = n;
    }

    void tail(String key, Object value) {
        tail.put(key, value);
    }

    /** The tail's list under {@code key}, created empty on first use. */
    @SuppressWarnings("unchecked")
    List<String> tailList(String key) {
        return (List<String>) tail.computeIfAbsent(key, k -> new ArrayList<String>());
    }

    // ---- the facts ----------------------------------------------------------------------------------------

    /** The format and layer of the stream proper. */
    public DetectedStream.Kind kind() {
        return kind;
    }

    /** xl's header (flags, configuration) when the file has one, else null. */
    public XlSaveHeader xlHeader() {
        return xlHeader;
    }

    /** The toolstack header before the stream, or null without one. */
    public DetectedStream.Wrapper toolstackHeader() {
        return toolstackHeader;
    }

    /** A legacy stream's toolstack width ({@code unsigned long}); null for v2. */
    public Width toolstackWidth() {
        return toolstackWidth;
    }

    /** Where {@link #toolstackWidth()} came from; null for v2. */
    public Source toolstackWidthSource() {
        return toolstackWidthSource;
    }

    /** The guest type; null only for a v2 stream without a domain header. */
    public GuestType guestType() {
        return guestType;
    }

    /** Where {@link #guestType()} came from. */
    public Source guestTypeSource() {
        return guestTypeSource;
    }

    /** A PV guest's width; null for HVM. */
    public Width guestWidth() {
        return guestWidth;
    }

    /** The p2m size in PFNs, when the stream says it. */
    public OptionalLong p2mSize() {
        return p2mSize >= 0 ? OptionalLong.of(p2mSize) : OptionalLong.empty();
    }

    /** Bytes read, toolstack header included: the file's size. */
    public long totalBytes() {
        return totalBytes;
    }

    /** Checkpoints in the stream (1 unless Remus or COLO). */
    public int checkpoints() {
        return checkpoints;
    }

    /** Every item (chunk or record) by name, in order of first appearance. */
    public Map<String, ItemCount> items() {
        Map<String, ItemCount> m = new LinkedHashMap<>();
        items.forEach((name, c) -> m.put(name, new ItemCount(c[0], c[1])));
        return Collections.unmodifiableMap(m);
    }

    /** Page entries by type, over all checkpoints. */
    public Map<PageType, Long> pages() {
        return Collections.unmodifiableMap(pages);
    }

    /** Page entries per checkpoint, in order. */
    public List<Long> pagesPerCheckpoint() {
        return Collections.unmodifiableList(pagesPerCheckpoint);
    }

    /** Page entries in all, over all checkpoints. */
    public long pageCount() {
        return pages.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * Facts about the stream's tail and headers, in the order found, for display: keys such as {@code vcpus},
     * {@code tsc}, {@code hvm_context_records}, {@code qemu_record}; values are numbers, booleans, strings or
     * lists of strings.
     */
    public Map<String, Object> tail() {
        Map<String, Object> m = new LinkedHashMap<>();
        tail.forEach((key, value) -> m.put(key, value instanceof List<?> l ? List.copyOf(l) : value));
        return Collections.unmodifiableMap(m);
    }

    @Override
    public String toString() {
        return kind.format() + " " + kind.layer() + " stream, " + guestType + ", " + pageCount() + " pages, "
                + checkpoints + " checkpoint(s), " + totalBytes + " bytes";
    }
}
