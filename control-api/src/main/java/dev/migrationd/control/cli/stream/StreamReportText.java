package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.text.Json;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.verify.Report;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** How {@code stream verify} and {@code stream inspect} show a verifier {@link Report}: one line, text, or a map for JSON. */
final class StreamReportText {
    private StreamReportText() {
    }

    /** One line for {@code verify}. */
    static String oneLine(Report r) {
        StringBuilder sb = new StringBuilder(r.kind().format());
        sb.append(' ').append(r.kind().layer());
        sb.append(" stream");
        if (r.guestType() != null) {
            sb.append(", ").append(lower(r.guestType())).append(" guest");
        }
        if (r.guestWidth() != null) {
            sb.append(" (").append(r.guestWidth().bits()).append("-bit)");
        }
        if (r.toolstackWidth() != null) {
            sb.append(", ").append(r.toolstackWidth().bits()).append("-bit toolstack");
        }
        if (r.xlHeader() != null) {
            sb.append(", xl header (").append(r.xlHeader().config() == null ? "no configuration"
                    : (r.xlHeader().json() ? "JSON" : "config-file text") + " configuration of " + r.xlHeader().config().length
                    + " bytes").append(')');
        }
        int checkpoints = r.checkpoints();
        sb.append(", ").append(r.pageCount()).append(" pages, ").append(checkpoints)
                .append(checkpoints == 1 ? " checkpoint, " : " checkpoints, ").append(r.totalBytes()).append(" bytes");
        return sb.toString();
    }

    /** {@code inspect}'s text: one fact per line, then the items, the pages by type and the tail. */
    static String text(Report r) {
        StringBuilder sb = new StringBuilder();
        line(sb, "format", r.kind().format() + " (" + r.kind().layer() + " layer)"
                + (r.toolstackHeader() != null ? ", " + lower(r.toolstackHeader()) + " header" : ""));
        if (r.xlHeader() != null) {
            line(sb, "xl header", r.xlHeader().describe());
            if (r.xlHeader().config() != null) {
                sb.append(r.xlHeader().json() ? "xl config (libxl JSON):\n" : "xl config (xl config-file text):\n");
                for (String l : r.xlHeader().configText().split("\n", -1)) {
                    sb.append("  ").append(l).append('\n');
                }
            }
        }
        if (r.toolstackWidth() != null) {
            line(sb, "toolstack width", r.toolstackWidth().bits() + "-bit (" + widthSource(r) + ")");
        }
        if (r.guestType() != null) {
            line(sb, "guest type", lower(r.guestType()) + (r.guestTypeSource() != null ? " (" + guestSource(r) + ")" : ""));
        }
        if (r.guestWidth() != null) {
            line(sb, "guest width", r.guestWidth().bits() + "-bit");
        }
        if (r.p2mSize().isPresent()) {
            long p2m = r.p2mSize().getAsLong();
            line(sb, "p2m size", "0x" + Long.toHexString(p2m) + " (" + p2m + " pfns)");
        }
        List<Long> perCheckpoint = r.pagesPerCheckpoint();
        line(sb, "checkpoints", r.checkpoints() + (perCheckpoint.size() > 1 ? " (pages: "
                + perCheckpoint.stream().map(String::valueOf).collect(Collectors.joining(", ")) + ")" : ""));
        line(sb, "total bytes", Long.toString(r.totalBytes()));
        sb.append("items:\n");
        Map<String, Report.ItemCount> items = r.items();
        int w = items.keySet().stream().mapToInt(String::length).max().orElse(0);
        for (Map.Entry<String, Report.ItemCount> e : items.entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-" + w + "s  %8d x  %12d bytes%n", e.getKey(), e.getValue().count(),
                    e.getValue().bytes()));
        }
        sb.append("pages: ").append(r.pageCount()).append('\n');
        for (Map.Entry<PageType, Long> e : r.pages().entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-13s %10d%n", e.getKey(), e.getValue()));
        }
        sb.append("tail:\n");
        for (Map.Entry<String, Object> e : r.tail().entrySet()) {
            sb.append("  ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        }
        return sb.toString();
    }

    /** {@code inspect --format json}: the same facts as a map for {@link Json}. */
    static Map<String, Object> map(Report r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", r.kind().format());
        m.put("layer", r.kind().layer());
        m.put("toolstack_header", r.toolstackHeader() == null ? null : lower(r.toolstackHeader()));
        if (r.xlHeader() != null) {
            Map<String, Object> xl = new LinkedHashMap<>();
            xl.put("mandatory_flags", r.xlHeader().mandatoryFlags());
            xl.put("optional_flags", r.xlHeader().optionalFlags());
            xl.put("optional_data_bytes", r.xlHeader().optionalDataBytes());
            xl.put("config_format", r.xlHeader().config() == null ? null : r.xlHeader().json() ? "json" : "xl");
            xl.put("config", r.xlHeader().configText());
            m.put("xl_header", xl);
        }
        m.put("toolstack_width", bits(r.toolstackWidth()));
        m.put("toolstack_width_source", widthSource(r));
        m.put("guest_type", r.guestType() == null ? null : lower(r.guestType()));
        m.put("guest_type_source", guestSource(r));
        m.put("guest_width", bits(r.guestWidth()));
        m.put("p2m_size", r.p2mSize().isPresent() ? r.p2mSize().getAsLong() : null);
        m.put("checkpoints", r.checkpoints());
        m.put("pages_per_checkpoint", r.pagesPerCheckpoint());
        m.put("total_bytes", r.totalBytes());
        Map<String, Object> it = new LinkedHashMap<>();
        for (Map.Entry<String, Report.ItemCount> e : r.items().entrySet()) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("count", e.getValue().count());
            c.put("bytes", e.getValue().bytes());
            it.put(e.getKey(), c);
        }
        m.put("items", it);
        Map<String, Object> pg = new LinkedHashMap<>();
        for (Map.Entry<PageType, Long> e : r.pages().entrySet()) {
            pg.put(e.getKey().name(), e.getValue());
        }
        m.put("pages", pg);
        m.put("page_count", r.pageCount());
        m.put("tail", r.tail());
        return m;
    }

    /** The CLI's words for where the width came from: the option's name when the user gave it. */
    private static String widthSource(Report r) {
        return source(r.toolstackWidthSource(), "--width");
    }

    private static String guestSource(Report r) {
        return source(r.guestTypeSource(), "--guest");
    }

    private static String source(Report.Source s, String option) {
        return s == null ? null : switch (s) {
            case GIVEN -> option;
            case DETECTED -> "detected";
            case DEFAULT -> "default";
            case DOMAIN_HEADER -> "domain header";
        };
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static Integer bits(Width w) {
        return w == null ? null : w.bits();
    }

    private static void line(StringBuilder sb, String key, String value) {
        sb.append(String.format(Locale.ROOT, "%-16s %s%n", key + ":", value));
    }
}
