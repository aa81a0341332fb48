package dev.migrationd.protocol;

/** Framing is lost (truncation, impossible length, unknown chunk id): nothing after this can be read. */
public final class StreamFatalException extends StreamException {
    public StreamFatalException(String item, long code, long offset, String problem) {
        super(item, code, offset, problem, null);
    }

    public StreamFatalException(String item, long code, long offset, String problem, Throwable cause) {
        super(item, code, offset, problem, cause);
    }
}
