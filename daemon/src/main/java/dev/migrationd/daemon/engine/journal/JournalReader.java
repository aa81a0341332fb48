package dev.migrationd.daemon.engine.journal;

import static dev.migrationd.daemon.engine.journal.JournalFormat.HEADER_BYTES;
import static dev.migrationd.daemon.engine.journal.JournalFormat.MAX_RECORD_BYTES;
import static dev.migrationd.daemon.engine.journal.JournalFormat.RECORD_HEADER_BYTES;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a journal's records in file order and stops at the first one that is not valid (too short, a length
 * out of range, a checksum that does not match, a payload that is not an entry): what comes before it is the
 * longest valid prefix, the only part replay accepts. What follows the prefix is classified: nothing; a
 * <b>torn</b> tail (what a crash in the middle of one append leaves: part of one record, perhaps followed by
 * the file system's zero fill); or <b>damage</b> (a valid record further on, or more bytes than one append
 * can leave), which is not a crash's doing and is kept aside for a person to look at.
 *
 * <p>Memory is bounded whatever the file's size: one window of {@link #WINDOW_BYTES} and, to classify the
 * tail, at most {@link #MAX_TORN_TAIL} bytes. Stateless; any thread.
 */
public final class JournalReader {

    /** How much is read at a time. */
    static final int WINDOW_BYTES = 64 * 1024;
    /**
     * The most a crash in the middle of one append can leave after the last valid record: one record, and
     * the zero fill of a file system that had extended the file (rounded up generously to 64 KiB). More than
     * this after the prefix is damage.
     */
    public static final long MAX_TORN_TAIL = RECORD_HEADER_BYTES + MAX_RECORD_BYTES + 64 * 1024;

    private JournalReader() {
    }

    /** Positional reads, as {@link java.nio.channels.FileChannel#read(ByteBuffer, long)} does them. */
    @FunctionalInterface
    public interface Source {
        /** Reads into {@code dst} from {@code position}; returns the bytes read, -1 at the end. */
        int read(ByteBuffer dst, long position) throws IOException;
    }

    /** Receives each valid record: its entry, and where its bytes are (offset of its length, total length). */
    @FunctionalInterface
    public interface Sink {
        void record(Journal.Entry entry, long offset, int length) throws IOException;
    }

    /** What follows the longest valid prefix. */
    public enum Tail {
        /** Nothing: the file ends with a valid record. */
        NONE,
        /** Part of one record, as a crash in the middle of an append leaves it: cut without fuss. */
        TORN,
        /** Anything else (a valid record after an invalid one, or too much): cut, and kept aside. */
        DAMAGED
    }

    /**
     * @param validEnd end of the last valid record (the header's end when there is none)
     * @param size     the file's size
     * @param records  valid records
     * @param tail     what lies in {@code [validEnd, size)}
     */
    public record Scan(long validEnd, long size, int records, Tail tail) {
    }

    /** Scans the records of a file whose header is valid, from {@link JournalFormat#HEADER_BYTES} to {@code size}. */
    public static Scan scan(Source src, long size, Sink sink) throws IOException {
        Window in = new Window(src, size);
        byte[] payload = new byte[MAX_RECORD_BYTES];
        long pos = HEADER_BYTES;
        int records = 0;
        while (size - pos >= RECORD_HEADER_BYTES) {
            ByteBuffer head = in.at(pos, RECORD_HEADER_BYTES);
            int len = head.getInt();
            int crc = head.getInt();
            if (len < 1 || len > MAX_RECORD_BYTES || size - pos - RECORD_HEADER_BYTES < len) {
                break;
            }
            in.at(pos + RECORD_HEADER_BYTES, len).get(payload, 0, len);
            if (JournalFormat.recordCrc(len, payload, 0) != crc) {
                break;
            }
            Journal.Entry e = JournalFormat.parse(payload, 0, len);
            if (e == null) {
                break;
            }
            sink.record(e, pos, RECORD_HEADER_BYTES + len);
            pos += RECORD_HEADER_BYTES + len;
            records++;
        }
        return new Scan(pos, size, records, pos == size ? Tail.NONE : classify(src, pos, size));
    }

    private static Tail classify(Source src, long from, long size) throws IOException {
        if (size - from > MAX_TORN_TAIL) {
            return Tail.DAMAGED;
        }
        byte[] rest = new byte[(int) (size - from)];
        readFully(src, ByteBuffer.wrap(rest), from);
        ByteBuffer b = ByteBuffer.wrap(rest);
        for (int q = 1; q + RECORD_HEADER_BYTES <= rest.length; q++) {
            int len = b.getInt(q);
            if (len >= 1 && len <= MAX_RECORD_BYTES && rest.length - q - RECORD_HEADER_BYTES >= len
                    && JournalFormat.recordCrc(len, rest, q + RECORD_HEADER_BYTES) == b.getInt(q + 4)) {
                return Tail.DAMAGED;
            }
        }
        return Tail.TORN;
    }

    /** A whole journal file in memory (header included): its header kind, valid entries and scan. */
    public record Contents(String header, List<Journal.Entry> entries, Scan scan) {
    }

    /**
     * Reads a whole journal held in memory, as {@link Journal} would when opening it: the header's kind
     * ({@code CURRENT}, {@code TEXT}, {@code NEWER_VERSION}, {@code CORRUPT}, or {@code EMPTY}) and, for a
     * current file, the valid entries. For tests and tools; the daemon never reads a journal whole.
     */
    public static Contents read(byte[] file) throws IOException {
        if (file.length == 0) {
            return new Contents("EMPTY", List.of(), new Scan(0, 0, 0, Tail.NONE));
        }
        JournalFormat.HeaderKind kind = JournalFormat.headerKind(file, Math.min(file.length, HEADER_BYTES));
        if (kind != JournalFormat.HeaderKind.CURRENT) {
            return new Contents(kind.name(), List.of(), new Scan(0, file.length, 0, Tail.NONE));
        }
        List<Journal.Entry> entries = new ArrayList<>();
        Scan s = scan((dst, position) -> {
            if (position >= file.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), file.length - position);
            dst.put(file, (int) position, n);
            return n;
        }, file.length, (e, off, len) -> entries.add(e));
        return new Contents(kind.name(), entries, s);
    }

    static void readFully(Source src, ByteBuffer dst, long position) throws IOException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = src.read(dst, p);
            if (n < 0) {
                throw new EOFException("journal ended at " + p + " while reading");
            }
            p += n;
        }
    }

    /** A read window over the source, refilled as the scan moves on. */
    private static final class Window {
        private final Source src;
        private final long size;
        private final ByteBuffer buf = ByteBuffer.allocate(WINDOW_BYTES);
        private long base = -1;

        Window(Source src, long size) {
            this.src = src;
            this.size = size;
        }

        /** A view of {@code len} bytes at {@code pos} (len ≤ one record: always fits the window). */
        ByteBuffer at(long pos, int len) throws IOException {
            if (base < 0 || pos < base || pos + len > base + buf.limit()) {
                buf.clear();
                buf.limit((int) Math.min(WINDOW_BYTES, size - pos));
                readFully(src, buf, pos);
                buf.flip();
                base = pos;
            }
            return buf.duplicate().position((int) (pos - base)).limit((int) (pos - base) + len);
        }
    }
}
