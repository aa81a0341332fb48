package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental, push-based reader of a libxl v2 stream (docs/wire-format-v2.md §3) with its embedded libxc
 * stream: yields the libxl header and records and, after LIBXC_CONTEXT, the libxc items, in stream
 * order. Checkpointed streams: at each libxc CHECKPOINT the reader returns to libxl records until
 * CHECKPOINT_END, then continues with libxc records. The same contract as {@link LibxcReader}
 * (any split, views, bounded memory, first error sticks); the stream ends with libxl END, or right
 * after a checkpoint's libxl records (Remus failover).
 *
 * <p>Not thread-safe: one thread owns a reader.
 */
public final class LibxlReader {
    private enum State { HEADER, RECORD_HEADER, BODY, LIBXC, DONE, FAILED }

    public static final String UNKNOWN = "UNKNOWN_LIBXL_RECORD";

    private final StreamLimits limits;
    private final Assembler asm = new Assembler();
    private State state = State.HEADER;
    private long offset;
    private long itemStart;
    private LibxlRecordType recType;
    private int bodyLen;
    private LibxcReader libxc;
    /** Between a libxc CHECKPOINT and the libxl CHECKPOINT_END. */
    private boolean inCheckpoint;
    private StreamException failure;

    private final java.util.function.Consumer<? super V2Item> items;
    private final LibxcReader.PageListener pages;

    public LibxlReader(StreamLimits limits) {
        this.limits = limits;
        this.items = null;
        this.pages = null;
        asm.start(V2Format.LIBXL_HDR_SIZE);
    }

    /**
     * Callback mode, as {@link LibxcReader#LibxcReader(StreamLimits, java.util.function.Consumer,
     * LibxcReader.PageListener)}: every item (libxl and libxc) goes to {@code items} in stream order, PAGE_DATA
     * pages to {@code pages} when it is non-null; {@link #feed} returns an empty list.
     */
    public LibxlReader(StreamLimits limits, java.util.function.Consumer<? super V2Item> items,
            LibxcReader.PageListener pages) {
        this.limits = limits;
        this.items = java.util.Objects.requireNonNull(items, "items");
        this.pages = pages;
        asm.start(V2Format.LIBXL_HDR_SIZE);
    }

    private void emit(V2Item item, List<V2Item> out) {
        if (items != null) {
            items.accept(item);
        } else {
            out.add(item);
        }
    }

    public List<V2Item> feed(ByteBuffer in) throws StreamException {
        if (state == State.FAILED) {
            throw failure;
        }
        List<V2Item> out = new ArrayList<>(2);
        try {
            while (state != State.DONE) {
                if (state == State.LIBXC) {
                    out.addAll(libxc.feed(in));
                    offset = libxc.offset();
                    if (libxc.isDone()) {
                        next(State.RECORD_HEADER, V2Format.RH_SIZE);
                    } else if (libxc.isPaused()) {
                        inCheckpoint = true;
                        next(State.RECORD_HEADER, V2Format.RH_SIZE);
                    } else {
                        break;
                    }
                    continue;
                }
                if (state == State.BODY && asm.need() == 0) {
                    completeRecord(ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN), out);
                    continue;
                }
                if (!in.hasRemaining()) {
                    break;
                }
                int before = in.position();
                ByteBuffer span = asm.offer(in);
                offset += in.position() - before;
                if (span == null) {
                    break;
                }
                switch (state) {
                    case HEADER -> {
                        emit(LibxlHeader.read(span, itemStart), out);
                        next(State.RECORD_HEADER, V2Format.RH_SIZE);
                    }
                    case RECORD_HEADER -> recordHeader(span);
                    case BODY -> completeRecord(span, out);
                    default -> throw new IllegalStateException(state.name());
                }
            }
        } catch (StreamException e) {
            state = State.FAILED;
            failure = e;
            throw e;
        }
        return out;
    }

    public void finish() throws StreamException {
        if (state == State.FAILED) {
            throw failure;
        }
        if (state == State.DONE) {
            return;
        }
        if (state == State.LIBXC) {
            try {
                libxc.finish();
            } catch (StreamException e) {
                state = State.FAILED;
                failure = e;
                throw e;
            }
            // libxc accepted the end: it stopped between records right after a CHECKPOINT whose libxl
            // records and CHECKPOINT_END were complete (Remus/COLO failover)
            return;
        }
        String item = switch (state) {
            case HEADER -> LibxlHeader.ITEM;
            case RECORD_HEADER -> "LIBXL_RECORD_HEADER";
            case LIBXC -> "LIBXC_CONTEXT";
            default -> recType == null ? UNKNOWN : recType.name();
        };
        StreamFatalException e = new StreamFatalException(item, recType == null || state != State.BODY ? 0
                : recType.code(), itemStart, "stream truncated after " + asm.have() + " of " + asm.need() + " bytes"
                + (state == State.RECORD_HEADER ? " (no END record)" : ""));
        state = State.FAILED;
        failure = e;
        throw e;
    }

    public boolean isDone() {
        return state == State.DONE;
    }

    public long offset() {
        return offset;
    }

    private void next(State s, int need) {
        state = s;
        itemStart = offset;
        asm.start(need);
    }

    private void recordHeader(ByteBuffer h) throws StreamException {
        long type = Integer.toUnsignedLong(h.getInt(0));
        long len = Integer.toUnsignedLong(h.getInt(4));
        long at = itemStart;
        LibxlRecordType t = LibxlRecordType.fromCodeOrNull(type);
        if (t == null) {
            throw new StreamFatalException(UNKNOWN, type, at, "unknown libxl record type");
        }
        recType = t;
        long max = switch (t) {
            case END, LIBXC_CONTEXT, CHECKPOINT_END -> 0;
            case CHECKPOINT_STATE -> V2Format.CHECKPOINT_STATE_SIZE;
            case EMULATOR_XENSTORE_DATA -> V2Format.EMULATOR_HDR_SIZE + (long) limits.maxToolstackBytes();
            case EMULATOR_CONTEXT -> V2Format.EMULATOR_HDR_SIZE + (long) limits.maxQemuRecordBytes();
        };
        if (len > max) {
            throw new StreamFatalException(t.name(), type, at, "length " + len + " exceeds the limit " + max);
        }
        if ((t == LibxlRecordType.EMULATOR_CONTEXT || t == LibxlRecordType.EMULATOR_XENSTORE_DATA)
                && len < V2Format.EMULATOR_HDR_SIZE) {
            throw Bodies.bad(t, at, "length " + len + " is below 8");
        }
        if (t == LibxlRecordType.CHECKPOINT_STATE && len != V2Format.CHECKPOINT_STATE_SIZE) {
            throw Bodies.bad(t, at, "length " + len + " is not 8");
        }
        bodyLen = (int) len;
        state = State.BODY;
        asm.start((int) (len + V2Format.padding(len)));
    }

    private void completeRecord(ByteBuffer span, List<V2Item> out) throws StreamException {
        LibxlRecordType t = recType;
        long at = itemStart;
        for (int i = bodyLen; i < span.limit(); i++) {
            if (span.get(i) != 0) {
                throw new StreamFatalException(t.name(), t.code(), at, "padding byte " + (i - bodyLen) + " is 0x"
                        + Integer.toHexString(span.get(i) & 0xFF) + ", not zero");
            }
        }
        ByteBuffer body = span.slice(0, bodyLen).order(ByteOrder.LITTLE_ENDIAN);
        LibxlRecord r = switch (t) {
            case END, LIBXC_CONTEXT, CHECKPOINT_END -> LibxlSignalRecord.of(t);
            case EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT -> EmulatorRecord.read(t, body, at);
            case CHECKPOINT_STATE -> CheckpointState.read(body, at);
        };
        switch (t) {
            case LIBXC_CONTEXT -> {
                if (libxc != null) {
                    throw Bodies.bad(t, at, "second LIBXC_CONTEXT");
                }
                emit(r, out);
                libxc = new LibxcReader(limits, items == null ? null : items::accept, pages, offset, true);
                state = State.LIBXC;
                return;
            }
            case CHECKPOINT_END -> {
                if (!inCheckpoint) {
                    throw Bodies.bad(t, at, "CHECKPOINT_END without a libxc CHECKPOINT before it");
                }
                emit(r, out);
                inCheckpoint = false;
                libxc.resume();
                state = State.LIBXC;
                return;
            }
            case END -> {
                if (libxc == null || !libxc.isDone()) {
                    throw endTooEarly(t, at);
                }
                emit(r, out);
                state = State.DONE;
                return;
            }
            default -> emit(r, out);
        }
        next(State.RECORD_HEADER, V2Format.RH_SIZE);
    }

    private static RecordException endTooEarly(LibxlRecordType t, long at) {
        return Bodies.bad(t, at, "END before the libxc stream's END");
    }
}
