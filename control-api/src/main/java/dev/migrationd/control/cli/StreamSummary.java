package dev.migrationd.control.cli;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code stream inspect} reports, accumulated while a stream is read. Owned by the one thread that
 * reads the stream.
 */
final class StreamSummary {
    /** "legacy" or "v2". */
    String format;
    /** "libxc" or "libxl" (a legacy stream is a bare libxc stream). */
    String layer;
    /** "xl", "xend" or null: the toolstack header before the stream. */
    String toolstackHeader;
    Width toolstackWidth;
    String toolstackWidthSource;
    GuestType guestType;
    String guestTypeSource;
    Width guestWidth;
    long p2mSize = -1;
    long totalBytes;
    int checkpoints;
    /** Per item/record name: {count, bytes}, in order of first appearance. */
    final Map<String, long[]> items = new LinkedHashMap<>();
    final Map<PageType, Long> pages = new EnumMap<>(PageType.class);
    /** Page entries per checkpoint, in order. */
    final java.util.List<Long> pagesPerCheckpoint = new java.util.ArrayList<>();
    private long pagesThisCheckpoint;
    /** Tail facts, in order. */
    final Map<String, Object> tail = new LinkedHashMap<>();

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

    long pageCount() {
        return pages.values().stream().mapToLong(Long::longValue).sum();
    }

    private static String lower(Object o) {
        return o == null ? null : o.toString().toLowerCase(Locale.ROOT);
    }

    private static Integer bits(Width w) {
        return w == null ? null : w.bits();
    }

    /** One line for {@code verify}. */
    String oneLine() {
        StringBuilder sb = new StringBuilder(format);
        if (layer != null) {
            sb.append(' ').append(layer);
        }
        sb.append(" stream");
        if (guestType != null) {
            sb.append(", ").append(lower(guestType)).append(" guest");
        }
        if (guestWidth != null) {
            sb.append(" (").append(guestWidth.bits()).append("-bit)");
        }
        if (toolstackWidth != null) {
            sb.append(", ").append(toolstackWidth.bits()).append("-bit toolstack");
        }
        sb.append(", ").append(pageCount()).append(" pages, ").append(checkpoints)
                .append(checkpoints == 1 ? " checkpoint, " : " checkpoints, ").append(totalBytes).append(" bytes");
        return sb.toString();
    }

    String toText() {
        StringBuilder sb = new StringBuilder();
        line(sb, "format", format + (layer != null ? " (" + layer + " layer)" : "") + (toolstackHeader != null ? ", " + toolstackHeader + " header" : ""));
        if (toolstackWidth != null) {
            line(sb, "toolstack width", toolstackWidth.bits() + "-bit (" + toolstackWidthSource + ")");
        }
        if (guestType != null) {
            line(sb, "guest type", lower(guestType) + (guestTypeSource != null ? " (" + guestTypeSource + ")" : ""));
        }
        if (guestWidth != null) {
            line(sb, "guest width", guestWidth.bits() + "-bit");
        }
        if (p2mSize >= 0) {
            line(sb, "p2m size", "0x" + Long.toHexString(p2mSize) + " (" + p2mSize + " pfns)");
        }
        line(sb, "checkpoints", checkpoints + (pagesPerCheckpoint.size() > 1 ? " (pages: "
                + pagesPerCheckpoint.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", "))
                + ")" : ""));
        line(sb, "total bytes", Long.toString(totalBytes));
        sb.append("items:\n");
        int w = items.keySet().stream().mapToInt(String::length).max().orElse(0);
        for (Map.Entry<String, long[]> e : items.entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s  %8d x  %12d bytes%n", e.getKey(), e.getValue()[0],
                    e.getValue()[1]));
        }
        sb.append("pages: ").append(pageCount()).append('\n');
        for (Map.Entry<PageType, Long> e : pages.entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-13s %10d%n", e.getKey(), e.getValue()));
        }
        sb.append("tail:\n");
        for (Map.Entry<String, Object> e : tail.entrySet()) {
            sb.append("  ").append(e.getKey()).append(": ").append(text(e.getValue())).append('\n');
        }
        return sb.toString();
    }

    private static String text(Object v) {
        if (v instanceof List<?> l) {
            return l.toString();
        }
        return String.valueOf(v);
    }

    private static void line(StringBuilder sb, String key, String value) {
        sb.append(String.format(Locale.ROOT, "%-16s %s%n", key + ":", value));
    }

    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", format);
        m.put("layer", layer);
        m.put("toolstack_header", toolstackHeader);
        m.put("toolstack_width", bits(toolstackWidth));
        m.put("toolstack_width_source", toolstackWidthSource);
        m.put("guest_type", lower(guestType));
        m.put("guest_type_source", guestTypeSource);
        m.put("guest_width", bits(guestWidth));
        m.put("p2m_size", p2mSize >= 0 ? p2mSize : null);
        m.put("checkpoints", checkpoints);
        m.put("pages_per_checkpoint", pagesPerCheckpoint);
        m.put("total_bytes", totalBytes);
        Map<String, Object> it = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : items.entrySet()) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("count", e.getValue()[0]);
            c.put("bytes", e.getValue()[1]);
            it.put(e.getKey(), c);
        }
        m.put("items", it);
        Map<String, Object> pg = new LinkedHashMap<>();
        for (Map.Entry<PageType, Long> e : pages.entrySet()) {
            pg.put(e.getKey().name(), e.getValue());
        }
        m.put("pages", pg);
        m.put("page_count", pageCount());
        m.put("tail", tail);
        return m;
    }
}
