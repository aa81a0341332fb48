package dev.migrationd.protocol.v2;

import java.nio.ByteBuffer;

/**
 * The libxl records with an empty body: END (0), LIBXC_CONTEXT (1: the libxc stream follows
 * immediately, outside the record) and CHECKPOINT_END (4).
 */
public record LibxlSignalRecord(LibxlRecordType type) implements LibxlRecord {
    public static final LibxlSignalRecord END = new LibxlSignalRecord(LibxlRecordType.END);
    public static final LibxlSignalRecord LIBXC_CONTEXT = new LibxlSignalRecord(LibxlRecordType.LIBXC_CONTEXT);
    public static final LibxlSignalRecord CHECKPOINT_END = new LibxlSignalRecord(LibxlRecordType.CHECKPOINT_END);

    public LibxlSignalRecord {
        if (type != LibxlRecordType.END && type != LibxlRecordType.LIBXC_CONTEXT
                && type != LibxlRecordType.CHECKPOINT_END) {
            throw new IllegalArgumentException(type + " is not an empty libxl record");
        }
    }

    public static LibxlSignalRecord of(LibxlRecordType type) {
        return switch (type) {
            case END -> END;
            case LIBXC_CONTEXT -> LIBXC_CONTEXT;
            case CHECKPOINT_END -> CHECKPOINT_END;
            default -> new LibxlSignalRecord(type);
        };
    }

    @Override
    public int fixedLength() {
        return 0;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
    }
}
