package dev.migrationd.protocol.v2;


/**
 * The libxc records whose body is empty: END (0x00), VERIFY (0x0D), CHECKPOINT (0x0E) and
 * STATIC_DATA_END (0x10, v3 only).
 * <pre>
 *  0       4       8
 * +-------+-------+
 * | type  | 0     |     no body, no padding
 * +-------+-------+
 * </pre>
 */
public record SignalRecord(RecordType type) implements LibxcRecord {
    public static final SignalRecord END = new SignalRecord(RecordType.END);
    public static final SignalRecord VERIFY = new SignalRecord(RecordType.VERIFY);
    public static final SignalRecord CHECKPOINT = new SignalRecord(RecordType.CHECKPOINT);
    public static final SignalRecord STATIC_DATA_END = new SignalRecord(RecordType.STATIC_DATA_END);

    public SignalRecord {
        if (!type.isSignal()) {
            throw new IllegalArgumentException(type + " is not an empty signalling record");
        }
    }

    public static SignalRecord of(RecordType type) {
        return switch (type) {
            case END -> END;
            case VERIFY -> VERIFY;
            case CHECKPOINT -> CHECKPOINT;
            case STATIC_DATA_END -> STATIC_DATA_END;
            default -> new SignalRecord(type);
        };
    }
}
