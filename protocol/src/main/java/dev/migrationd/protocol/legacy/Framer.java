package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The byte side of {@link LegacyStreamReader}: it gathers the bytes of the field a section waits for, or hands the
 * fed bytes to a {@link Raw} step that takes them unframed (page data, a QEMU record running to the end of the
 * stream, the detection prefix); it counts the offset and knows which item is being read, for errors.
 *
 * <p>A section asks for what comes next with {@link #field}: {@code n} bytes, then a {@link Field} continuation that
 * gets them. A section validates a length read from the stream before it asks for that many bytes; the field buffer
 * grows only as bytes arrive, so a lying length costs at most the bytes sent.
 *
 * <p>Threading: confined to the reader's thread.
 */
final class Framer {

    /** Gets a completed field: a little-endian view of exactly the bytes asked for, valid during the call. */
    @FunctionalInterface
    interface Field {
        void accept(ByteBuffer f) throws StreamException;
    }

    /** Gets an item a record has read; what comes next is the receiver's to say. */
    @FunctionalInterface
    interface Then<T> {
        void accept(T item) throws StreamException;
    }

    /** A step that takes the fed bytes itself instead of a field. */
    interface Raw {
        /** Takes some of {@code in}'s bytes (at least one), counting them with {@link Framer#advance}. */
        void take(ByteBuffer in) throws StreamException;

        /** Bytes still missing, for a truncation error. */
        long missing();

        /** End of input while this step waits: the stream is truncated unless the step says otherwise. */
        default void finish(Framer in) throws StreamException {
            throw in.truncated();
        }
    }

    private static final int SMALL_ACC = 256;
    private static final int SHRINK_ABOVE = 1 << 20;
    /** A field can be at most this long: the accumulation buffer is a Java array. */
    private static final long MAX_FIELD = Integer.MAX_VALUE - 64;

    private final StreamLimits limits;
    private final Consumer<? super LegacyItem> consumer;
    private final LegacyStreamReader.WarningListener warnings;
    private final long[] warned = new long[LegacyStreamReader.Leniency.values().length];
    private Width width;

    private String what = "HEADER";
    private Field next;
    private Raw raw;
    private int need;
    private byte[] acc = new byte[SMALL_ACC];
    private int accLen;
    private long offset;
    private boolean endAllowed;
    private boolean done;

    private String itemName = "HEADER";
    private long itemCode;
    private long itemOffset;

    Framer(StreamLimits limits, Consumer<? super LegacyItem> consumer, Width width,
           LegacyStreamReader.WarningListener warnings) {
        this.limits = Objects.requireNonNull(limits);
        this.consumer = Objects.requireNonNull(consumer);
        this.width = width;
        this.warnings = Objects.requireNonNull(warnings);
    }

    // ------------------------------------------------------------------ input

    /** Consumes bytes of {@code in} until it is empty or the stream is complete. */
    void feed(ByteBuffer in) throws StreamException {
        while (in.hasRemaining() && !done) {
            if (raw != null) {
                raw.take(in);
            } else {
                int take = Math.min(need - accLen, in.remaining());
                grow(accLen + take);
                in.get(acc, accLen, take);
                accLen += take;
                offset += take;
                if (accLen == need) {
                    complete();
                }
            }
        }
    }

    /** End of input: fine at a checkpoint boundary, up to the raw step, else truncation. */
    void finish() throws StreamException {
        if (done) {
            return;
        }
        if (raw != null) {
            raw.finish(this);
        } else if (endAllowed && accLen == 0) {
            done = true;
        } else {
            throw truncated();
        }
    }

    /**
     * Feeds bytes read ahead of the stream's framing (detection) as if they came again: the offset goes back by
     * their count first.
     */
    void replay(byte[] prefix) throws StreamException {
        offset -= prefix.length;
        feed(ByteBuffer.wrap(prefix));
    }

    // ------------------------------------------------------------------ what comes next

    /** Next: {@code n} bytes named {@code what}, then {@code then}; a zero-length field completes at once. */
    void field(String what, long n, Field then) throws StreamException {
        if (n < 0 || n > MAX_FIELD) {
            throw fatal("length " + n + " is impossible");
        }
        ask(what, (int) n, then);
        if (n == 0) {
            complete();
        }
    }

    /** Next: {@code n} bytes, then {@code then}, completed by input only (the first field of a stream). */
    void ask(String what, int n, Field then) {
        this.what = what;
        next = then;
        need = n;
        accLen = 0;
        raw = null;
        endAllowed = false;
    }

    /** Like {@link #field}, but the stream may also end cleanly before the field's first byte. */
    void fieldOrEnd(String what, long n, Field then) throws StreamException {
        field(what, n, then);
        endAllowed = true;
    }

    /** Next: {@code step} takes the fed bytes itself. */
    void raw(String what, Raw step) {
        this.what = what;
        raw = step;
        next = null;
        accLen = 0;
        endAllowed = false;
    }

    /** The stream is complete: further bytes are left unconsumed. */
    void end() {
        done = true;
        raw = null;
        next = null;
    }

    boolean isDone() {
        return done;
    }

    /** Counts bytes a raw step took. */
    void advance(int n) {
        offset += n;
    }

    private void complete() throws StreamException {
        ByteBuffer f = ByteBuffer.wrap(acc, 0, need).order(ByteOrder.LITTLE_ENDIAN);
        accLen = 0;
        next.accept(f);
        if (accLen == 0 && acc.length > SHRINK_ABOVE) {
            acc = new byte[SMALL_ACC];
        }
    }

    /** Grows the field buffer to hold {@code min} bytes, geometrically but never beyond the field. */
    private void grow(int min) {
        if (acc.length < min) {
            acc = Arrays.copyOf(acc, (int) Math.min(Math.max(min, 2L * acc.length), Math.max(min, need)));
        }
    }

    // ------------------------------------------------------------------ context for the records

    StreamLimits limits() {
        return limits;
    }

    /** The toolstack width W (null until detected). */
    Width width() {
        return width;
    }

    void setWidth(Width w) {
        width = w;
    }

    /** Bytes consumed so far. */
    long offset() {
        return offset;
    }

    /** Reads a {@code ulong} (W bytes, unsigned). */
    long ulong(ByteBuffer f) {
        return width == Width.W64 ? f.getLong() : f.getInt() & 0xFFFF_FFFFL;
    }

    /** The item now being read, for errors: its name, code and the offset where it starts. */
    void item(String name, long code, long start) {
        itemName = name;
        itemCode = code;
        itemOffset = start;
    }

    void emit(LegacyItem item) {
        consumer.accept(item);
    }

    // ------------------------------------------------------------------ warnings

    /**
     * Input accepted although no Xen sender writes it: tells the listener, naming the current item, up to
     * {@link LegacyStreamReader#MAX_WARNINGS_PER_KIND} times per kind, then once that further ones go unreported.
     */
    void warn(LegacyStreamReader.Leniency kind, String what) {
        long n = ++warned[kind.ordinal()];
        if (n <= LegacyStreamReader.MAX_WARNINGS_PER_KIND) {
            warnings.warn(new LegacyStreamReader.Warning(kind, itemName, itemCode, itemOffset, what));
        } else if (n == LegacyStreamReader.MAX_WARNINGS_PER_KIND + 1) {
            warnings.warn(new LegacyStreamReader.Warning(kind, itemName, itemCode, itemOffset, what
                    + "; further warnings of this kind are not reported"));
        }
    }

    long warnings(LegacyStreamReader.Leniency kind) {
        return warned[kind.ordinal()];
    }

    // ------------------------------------------------------------------ errors

    StreamFatalException truncated() {
        long missing = raw != null ? raw.missing() : need - accLen;
        return new StreamFatalException(itemName, itemCode, itemOffset, "stream truncated at offset " + offset
                + " inside " + what + " (" + missing + " more bytes needed)");
    }

    StreamFatalException fatal(String problem) {
        return new StreamFatalException(itemName, itemCode, itemOffset, problem);
    }

    RecordException record(String problem) {
        return new RecordException(itemName, itemCode, itemOffset, problem);
    }
}
