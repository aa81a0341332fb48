package dev.migrationd.daemon.engine.journal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/** A journal file's exact bytes built in memory, as {@link Journal} writes them, for byte-level tests elsewhere. */
public final class JournalBytes {

    private JournalBytes() {
    }

    /** The header and one framed record per entry. */
    public static byte[] of(List<Journal.Entry> entries) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(JournalFormat.header());
        for (Journal.Entry e : entries) {
            ByteBuffer f = JournalFormat.frame(JournalFormat.payload(e));
            out.write(f.array(), f.arrayOffset() + f.position(), f.remaining());
        }
        return out.toByteArray();
    }

    /** Where each record ends (exclusive), in order: a prefix holds record k whole iff its length reaches {@code ends[k]}. */
    public static int[] recordEnds(List<Journal.Entry> entries) throws IOException {
        int[] ends = new int[entries.size()];
        int at = JournalFormat.HEADER_BYTES;
        for (int k = 0; k < ends.length; k++) {
            at += JournalFormat.RECORD_HEADER_BYTES + JournalFormat.payload(entries.get(k)).length;
            ends[k] = at;
        }
        return ends;
    }
}
