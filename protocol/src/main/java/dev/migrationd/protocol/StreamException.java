package dev.migrationd.protocol;

/**
 * The base of the protocol's own exceptions. Every error names the item (chunk or record name),
 * its type code and the byte offset in the stream where the item starts (or where the problem was
 * found), so one line tells an operator what is wrong and where.
 *
 * <p>Two kinds, as Xen's {@code verify.py}: {@link StreamFatalException} (framing lost, truncation,
 * an impossible length: nothing after it can be trusted) and {@link RecordException} (a well-framed
 * item whose content is wrong).
 */
public abstract sealed class StreamException extends Exception
        permits StreamFatalException, RecordException {

    private final String item;
    private final long code;
    private final long offset;

    protected StreamException(String item, long code, long offset, String problem, Throwable cause) {
        super(format(item, code, offset, problem), cause);
        this.item = item;
        this.code = code;
        this.offset = offset;
    }

    private static String format(String item, long code, long offset, String problem) {
        // chunk ids are 32-bit: a negative one (XC_SAVE_ID_*) prints as the i32 it is on the wire
        String hex = code < 0 && code >= Integer.MIN_VALUE ? Integer.toHexString((int) code) : Long.toHexString(code);
        return item + " (code 0x" + hex + ") at offset " + offset + ": " + problem;
    }

    /** The name of the item being read, e.g. {@code "XC_SAVE_ID_VCPU_INFO"} or {@code "PAGE_DATA"}. */
    public String item() {
        return item;
    }

    /** The item's type code (chunk id, record type), as read from the stream. */
    public long code() {
        return code;
    }

    /** The byte offset in the stream. */
    public long offset() {
        return offset;
    }
}
