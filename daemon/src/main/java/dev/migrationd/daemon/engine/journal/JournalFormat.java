package dev.migrationd.daemon.engine.journal;

import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The journal file's bytes (docs/handover.md §4.1). Big-endian throughout.
 *
 * <pre>
 * file    = header record*
 * header  = magic[8] = 89 'M' 'G' 'J' 0D 0A 1A 0A, u32 version (= 2), u32 CRC32C of the 12 bytes before it
 * record  = u32 length (1 .. MAX_RECORD_BYTES), u32 CRC32C of (the 4 length bytes, then the payload), payload
 * payload = ASCII: space-separated key=value pairs, keys and values percent-encoded (UTF-8),
 *           first ts= id= role= state=, then the entry's fields sorted by key
 * </pre>
 *
 * The magic's first byte is not ASCII, so a journal of the previous text format (version 1: one
 * {@code ts=…} line per entry) is told apart at once; its {@code \r\n} and {@code 1A} catch a file that went
 * through a text-mode copy. The checksum covers the length, so a corrupted length is caught as surely as a
 * corrupted payload. Stateless; every method may be called from any thread.
 */
public final class JournalFormat {

    /** The file's first eight bytes. */
    static final byte[] MAGIC = {(byte) 0x89, 'M', 'G', 'J', '\r', '\n', 0x1A, '\n'};
    /** The format this code writes and reads (1 was the text format, read only to upgrade it). */
    public static final int VERSION = 2;
    /** Magic, version, checksum. */
    public static final int HEADER_BYTES = 16;
    /** Length and checksum before each payload. */
    public static final int RECORD_HEADER_BYTES = 8;
    /**
     * Largest payload. Every field but {@code reason} is bounded where it enters the daemon (ids and names
     * by the peer protocol and the control API), so a record this size always fits them; a longer reason is
     * cut to fit ({@link #payload}), never dropped.
     */
    public static final int MAX_RECORD_BYTES = 16 * 1024;
    /** Longest reason journaled (characters); a longer one (a peer's, say) is cut and marked. */
    public static final int MAX_REASON_CHARS = 1024;
    /** What a cut reason ends with. */
    static final String CUT_MARK = "…[cut]";

    private JournalFormat() {
    }

    /** A record that would be larger than {@link #MAX_RECORD_BYTES} even with its reason cut: nothing is written. */
    public static final class RecordTooLargeException extends IOException {
        RecordTooLargeException(String message) {
            super(message);
        }
    }

    /** The 16 header bytes. */
    static byte[] header() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
        b.put(MAGIC).putInt(VERSION);
        b.putInt(crc(b.array(), 0, 12));
        return b.array();
    }

    /** What the first bytes of a file say it is. */
    enum HeaderKind { CURRENT, NEWER_VERSION, TEXT, CORRUPT }

    /**
     * Reads a header: {@code CURRENT}; {@code NEWER_VERSION} (intact, another version: a downgrade); {@code TEXT}
     * (the previous format: printable lines beginning with {@code ts=}); or {@code CORRUPT}.
     */
    static HeaderKind headerKind(byte[] first, int n) {
        if (n >= 1 && first[0] == 't' && printableLines(first, Math.min(n, HEADER_BYTES))) {
            return HeaderKind.TEXT; // "ts=…", or a first line torn after a byte or two and then ended
        }
        if (n < HEADER_BYTES || !Arrays.equals(first, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
                || crc(first, 0, 12) != ByteBuffer.wrap(first, 12, 4).getInt()) {
            return HeaderKind.CORRUPT;
        }
        return ByteBuffer.wrap(first, 8, 4).getInt() == VERSION ? HeaderKind.CURRENT : HeaderKind.NEWER_VERSION;
    }

    private static boolean printableLines(byte[] b, int n) {
        for (int i = 0; i < n; i++) {
            if ((b[i] < 0x20 || b[i] > 0x7e) && b[i] != '\n') {
                return false;
            }
        }
        return true;
    }

    static int headerVersion(byte[] first) {
        return ByteBuffer.wrap(first, 8, 4).getInt();
    }

    /** CRC32C of the length's four bytes and then {@code len} payload bytes at {@code off}. */
    static int recordCrc(int len, byte[] payload, int off) {
        CRC32C c = new CRC32C();
        c.update(new byte[] {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
        c.update(payload, off, len);
        return (int) c.getValue();
    }

    private static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /** One framed record: length, checksum, payload. */
    static ByteBuffer frame(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER_BYTES + payload.length);
        b.putInt(payload.length).putInt(recordCrc(payload.length, payload, 0)).put(payload).flip();
        return b;
    }

    /**
     * The payload of {@code e}, at most {@link #MAX_RECORD_BYTES}: a reason longer than {@link #MAX_REASON_CHARS},
     * or one that would make the record too large, is cut and ends with {@value #CUT_MARK}.
     *
     * @throws RecordTooLargeException when the record is too large even without its reason
     */
    static byte[] payload(Journal.Entry e) throws RecordTooLargeException {
        Map<String, String> fields = new TreeMap<>(e.fields());
        String reason = fields.get("reason");
        if (reason != null && reason.length() > MAX_REASON_CHARS) {
            fields.put("reason", cut(reason, MAX_REASON_CHARS));
        }
        byte[] p = encode(e, fields);
        while (p.length > MAX_RECORD_BYTES && reason != null && fields.get("reason").length() > CUT_MARK.length()) {
            String r = fields.get("reason");
            fields.put("reason", cut(r, Math.max(CUT_MARK.length(), r.length() / 2)));
            p = encode(e, fields);
        }
        if (p.length > MAX_RECORD_BYTES) {
            throw new RecordTooLargeException("journal record for migration " + abbreviate(e.id()) + " (" + e.state()
                    + ") would be " + p.length + " bytes, more than " + MAX_RECORD_BYTES);
        }
        return p;
    }

    private static String cut(String s, int chars) {
        int keep = chars - CUT_MARK.length();
        if (keep > 0 && Character.isHighSurrogate(s.charAt(keep - 1))) {
            keep--; // never split a surrogate pair
        }
        return s.substring(0, Math.max(0, keep)) + CUT_MARK;
    }

    private static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "…";
    }

    private static byte[] encode(Journal.Entry e, Map<String, String> fields) {
        StringBuilder line = new StringBuilder(128);
        line.append("ts=").append(e.ts()).append(" id=").append(enc(e.id())).append(" role=")
                .append(e.role().name().toLowerCase(Locale.ROOT)).append(" state=").append(e.state());
        for (var f : fields.entrySet()) {
            line.append(' ').append(enc(f.getKey())).append('=').append(enc(f.getValue()));
        }
        return line.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The entry a payload holds, or null when it is not one (unknown state, missing key, bad encoding). */
    static Journal.Entry parse(String payload) {
        if (payload.isEmpty()) {
            return null;
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : payload.split(" ", -1)) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                return null;
            }
            try {
                if (kv.put(dec(part.substring(0, eq)), dec(part.substring(eq + 1))) != null) {
                    return null; // a key twice
                }
            } catch (IllegalArgumentException ex) {
                return null;
            }
        }
        try {
            String ts = kv.remove("ts");
            String id = kv.remove("id");
            String role = kv.remove("role");
            String state = kv.remove("state");
            if (ts == null || id == null || id.isEmpty() || role == null || state == null) {
                return null;
            }
            return new Journal.Entry(Instant.parse(ts), id, Journal.Role.valueOf(role.toUpperCase(Locale.ROOT)),
                    Journal.State.valueOf(state), kv);
        } catch (RuntimeException ex) {
            return null;
        }
    }

    /** The entry of a record's payload bytes, or null (see {@link #parse}). */
    static Journal.Entry parse(byte[] payload, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (payload[i] < 0x20 || payload[i] > 0x7e) {
                return null; // payloads are printable ASCII (the encoding escapes everything else)
            }
        }
        return parse(new String(payload, off, len, StandardCharsets.US_ASCII));
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }
}
