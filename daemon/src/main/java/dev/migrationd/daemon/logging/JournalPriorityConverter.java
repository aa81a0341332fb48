package dev.migrationd.daemon.logging;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** {@code %journalPriority}: the {@code <N>} syslog priority prefix when logging into the journal, else nothing. */
public final class JournalPriorityConverter extends ClassicConverter {
    @Override
    public String convert(ILoggingEvent event) {
        return JournalPriority.prefix(event.getLevel());
    }
}
