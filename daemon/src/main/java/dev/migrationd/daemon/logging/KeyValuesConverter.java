package dev.migrationd.daemon.logging;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.util.List;
import org.slf4j.event.KeyValuePair;

/**
 * {@code %kv}: the event's SLF4J key-value pairs as {@code  key=value}, each preceded by a space, in the
 * order given. A value is written bare when it is a plain token; otherwise in double quotes with
 * {@code \}, {@code "} and control characters escaped, so that one event stays one line and a value from
 * a peer cannot forge a field.
 */
public final class KeyValuesConverter extends ClassicConverter {

    @Override
    public String convert(ILoggingEvent event) {
        List<KeyValuePair> pairs = event.getKeyValuePairs();
        if (pairs == null || pairs.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (KeyValuePair p : pairs) {
            b.append(' ').append(p.key).append('=');
            appendValue(b, String.valueOf(p.value));
        }
        return b.toString();
    }

    static void appendValue(StringBuilder b, String v) {
        if (!v.isEmpty() && v.chars().allMatch(KeyValuesConverter::bare)) {
            b.append(v);
            return;
        }
        b.append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    private static boolean bare(int c) {
        return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
    }
}
