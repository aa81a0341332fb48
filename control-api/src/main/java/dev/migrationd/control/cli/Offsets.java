package dev.migrationd.control.cli;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;

/**
 * The protocol readers count offsets from the start of the save stream; a file may begin with an xl or xend header
 * first. This re-bases an error so that its offset is a file offset.
 */
final class Offsets {
    private Offsets() {
    }

    static StreamException toFileOffset(StreamException e, long base) {
        if (base == 0) {
            return e;
        }
        String marker = " at offset " + e.offset() + ": ";
        String msg = e.getMessage();
        int i = msg.indexOf(marker);
        String problem = i < 0 ? msg : msg.substring(i + marker.length());
        problem += " (file offset; the stream starts after a " + base + "-byte toolstack header)";
        return switch (e) {
            case RecordException r -> new RecordException(r.item(), r.code(), r.offset() + base, problem);
            case StreamFatalException f -> new StreamFatalException(f.item(), f.code(), f.offset() + base, problem, f);
        };
    }
}
