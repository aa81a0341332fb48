package dev.migrationd.protocol.v2;

/** The libxl record types ({@code REC_TYPE_*} of {@code libxl_sr_stream_format.h}, docs/wire-format-v2.md §3.2). */
public enum LibxlRecordType {
    END(0),
    LIBXC_CONTEXT(1),
    EMULATOR_XENSTORE_DATA(2),
    EMULATOR_CONTEXT(3),
    CHECKPOINT_END(4),
    CHECKPOINT_STATE(5);

    private static final LibxlRecordType[] BY_CODE = values();

    private final int code;

    LibxlRecordType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public static LibxlRecordType fromCodeOrNull(long code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[(int) code] : null;
    }

    public static LibxlRecordType fromCode(int code) {
        LibxlRecordType t = fromCodeOrNull(Integer.toUnsignedLong(code));
        if (t == null) {
            throw new IllegalArgumentException("unknown libxl record type 0x" + Integer.toHexString(code));
        }
        return t;
    }
}
