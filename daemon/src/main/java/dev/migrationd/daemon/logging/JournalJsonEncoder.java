package dev.migrationd.daemon.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.nio.charset.StandardCharsets;

/**
 * logback's JSON encoder (one object per line, every value escaped), with the journal's {@code <N>} priority
 * prefix in front when logging into the journal (journald strips it and keeps the priority).
 */
public final class JournalJsonEncoder extends JsonEncoder {
    @Override
    public byte[] encode(ILoggingEvent event) {
        byte[] json = super.encode(event);
        String prefix = JournalPriority.prefix(event.getLevel());
        if (prefix.isEmpty()) {
            return json;
        }
        byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[p.length + json.length];
        System.arraycopy(p, 0, out, 0, p.length);
        System.arraycopy(json, 0, out, p.length, json.length);
        return out;
    }
}
