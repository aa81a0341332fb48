package dev.migrationd.daemon.engine.journal;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a journal of the previous format (version 1), once, so that {@link Journal} can rewrite it in the
 * current one: one text line per entry, space-separated {@code key=value} pairs, percent-encoded — the same
 * text a record's payload holds now. Lines are read as that format was read: a line that does not parse (a
 * torn last line, a fragment glued to the next line) is skipped with a warning; nothing else is lost. A line
 * longer than {@link #MAX_LINE_BYTES} is skipped too (the previous reader dropped lines over 8 KiB; any line
 * it wrote is far shorter than this bound). Bytes that are not UTF-8 are read as U+FFFD and make their line
 * unparsable, never stop the read.
 */
final class TextJournal {

    private static final Logger LOG = LoggerFactory.getLogger(TextJournal.class);

    /** Longest line read (a bound on what one line may cost in memory). */
    static final int MAX_LINE_BYTES = 1 << 20;

    private TextJournal() {
    }

    /** Receives each entry read. */
    @FunctionalInterface
    interface EntrySink {
        void entry(Journal.Entry e) throws IOException;
    }

    /** Counts of a read. */
    record Read(int entries, int skipped) {
    }

    /** Streams the entries of the text journal {@code file} to {@code sink}, in file order. */
    static Read read(Path file, EntrySink sink) throws IOException {
        int entries = 0;
        int skipped = 0;
        int lineNo = 0;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 64 * 1024)) {
            ByteArrayOutputStream line = new ByteArrayOutputStream(256);
            boolean tooLong = false;
            int b;
            do {
                b = in.read();
                if (b != '\n' && b != -1) {
                    if (line.size() < MAX_LINE_BYTES) {
                        line.write(b);
                    } else {
                        tooLong = true;
                    }
                    continue;
                }
                if (line.size() > 0 || tooLong) {
                    lineNo++;
                    Journal.Entry e = tooLong ? null : JournalFormat.parse(line.toString(StandardCharsets.UTF_8));
                    if (e == null) {
                        skipped++;
                        LOG.warn("event=journal_text_line_skipped file={} line={} bytes={} reason={}", file, lineNo,
                                line.size(), tooLong ? "too_long" : "malformed");
                    } else {
                        sink.entry(e);
                        entries++;
                    }
                } else if (b == '\n') {
                    lineNo++;
                }
                line.reset();
                tooLong = false;
            } while (b != -1);
        }
        return new Read(entries, skipped);
    }
}
