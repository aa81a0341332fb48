package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.convert.LegacyToV2Converter;
import dev.migrationd.protocol.convert.LegacyToV2Pipeline;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * The save stream on a destination whose toolstack builds the guest ({@link StreamRestore}, Xen: libxl's
 * {@code libxl_domain_create_restore}): what arrives is validated by this project's reader against the offer's
 * shape and passed on as a libxl v2 stream. A v2 (libxc) stream goes through as it is, framed as libxl's
 * (header, LIBXC_CONTEXT, the libxc stream, END); a legacy stream is converted on the way
 * ({@link LegacyToV2Pipeline}, without an emulator record: a PVH guest has no device model). Checkpointed
 * streams are refused. The toolstack's result (the built domain, paused) is {@link #domain()} once
 * {@link #completeRestore} returned.
 *
 * <p>Confined to the feeding thread.
 */
public final class ToolstackDestinationStream implements IncomingStream {

    /** How long the toolstack may take after the stream's end to finish the domain (xenstore, console, devices). */
    public static final Duration FINISH_TIMEOUT = Duration.ofSeconds(300);

    private final StreamRestore restore;
    private final Duration finishTimeout;
    private final Runnable onStopAndCopy;
    /** Exactly one of these two is set: the v2 reader (bytes passed through) or the legacy converter. */
    private final LibxcReader v2;
    private final LegacyToV2Pipeline legacy;
    private final LibxlWriter libxl;
    private long pages;
    private boolean headerWritten;
    private boolean complete;
    private Domain domain;

    private ToolstackDestinationStream(MigrationOptions.StreamFormat format, StreamRestore restore, DomainShape shape,
                                       Runnable onStopAndCopy, Duration finishTimeout) {
        this.restore = Objects.requireNonNull(restore, "restore");
        this.onStopAndCopy = onStopAndCopy;
        this.finishTimeout = finishTimeout;
        StreamLimits limits = StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize());
        this.libxl = new LibxlWriter(this::toToolstack);
        if (format == MigrationOptions.StreamFormat.V2) {
            this.legacy = null;
            this.v2 = new LibxcReader(limits, this::onV2Item, (record, entry, page) -> pages++);
        } else {
            this.v2 = null;
            this.legacy = new LegacyToV2Pipeline(
                    LegacyStreamReader.Options.of(LegacySourceStream.TOOLSTACK_WIDTH, shape.guestType()).withLimits(limits),
                    LegacyToV2Converter.Format.LIBXL, true, false, this::toToolstack, this::onLegacyItem);
        }
    }

    private void onV2Item(LibxcItem item) {
        if (item instanceof TscInfoRecord) {
            onStopAndCopy.run(); // the source paused the guest just before
        } else if (item instanceof SignalRecord s && s.type() == RecordType.CHECKPOINT) {
            throw new UncheckedStreamException(new RecordException(s.type().name(), s.type().code(), v2.offset(),
                    "checkpointed streams are not accepted"));
        }
    }

    private void onLegacyItem(LegacyItem item) {
        if (item instanceof TscInfoChunk) {
            onStopAndCopy.run(); // the source paused the guest just before
        } else if (item instanceof CheckpointEnd c && !c.last()) {
            throw new UncheckedStreamException(new RecordException(item.itemName(), 0, legacy.offset(),
                    "checkpointed streams are not accepted"));
        }
    }

    /** The stream of {@code format}, passed to {@code restore} as libxl v2. */
    public static ToolstackDestinationStream of(MigrationOptions.StreamFormat format, StreamRestore restore, DomainShape shape,
                                                Runnable onStopAndCopy) {
        return new ToolstackDestinationStream(format, restore, shape, onStopAndCopy, FINISH_TIMEOUT);
    }

    /** As {@link #of}, with another bound on the toolstack's work after the stream (tests). */
    static ToolstackDestinationStream of(MigrationOptions.StreamFormat format, StreamRestore restore, DomainShape shape,
                                         Runnable onStopAndCopy, Duration finishTimeout) {
        return new ToolstackDestinationStream(format, restore, shape, onStopAndCopy, finishTimeout);
    }

    /** The sink of the libxl stream: the toolstack; its failure is carried out as an IOException. */
    private void toToolstack(ByteBuffer bytes) throws IOException {
        try {
            restore.write(bytes);
        } catch (HypervisorException e) {
            throw new ToolstackGone(e);
        }
    }

    @Override
    public void feed(ByteBuffer data) throws StreamException, HypervisorException {
        try {
            if (v2 != null) {
                if (!headerWritten) {
                    libxl.writeHeader(new LibxlHeader(false));
                    libxl.write(LibxlSignalRecord.LIBXC_CONTEXT);
                    headerWritten = true;
                }
                ByteBuffer consumed = data.duplicate();
                v2.feed(data);
                consumed.limit(data.position());
                toToolstack(consumed);
                if (v2.isDone()) {
                    libxl.write(LibxlSignalRecord.END);
                    complete = true;
                }
            } else {
                legacy.feed(data);
                if (legacy.isComplete()) {
                    legacy.finish(); // the v2 END records
                    complete = true;
                }
            }
        } catch (ToolstackGone e) {
            throw e.cause;
        } catch (UncheckedStreamException e) {
            throw e.cause;
        } catch (IOException e) {
            throw new UncheckedIOException(e); // the sink throws nothing else
        }
    }

    @Override
    public boolean complete() {
        return complete;
    }

    @Override
    public long offset() {
        return v2 != null ? v2.offset() : legacy.offset();
    }

    /** Pages seen (v2 streams; a converted legacy stream's pages are not counted here). */
    @Override
    public long pages() {
        return pages;
    }

    @Override
    public void completeRestore() throws StreamException, HypervisorException {
        if (!complete) {
            throw new RecordException("STREAM", 0, offset(), "stream ended before its end record");
        }
        if (domain == null) {
            domain = restore.finish(finishTimeout);
        }
    }

    /** The domain the toolstack built (paused), once {@link #completeRestore} returned. */
    public Domain domain() {
        if (domain == null) {
            throw new IllegalStateException("the toolstack has not finished the domain");
        }
        return domain;
    }

    /** A toolstack failure carried through the libxl writer's sink. */
    private static final class ToolstackGone extends IOException {
        final HypervisorException cause;

        ToolstackGone(HypervisorException cause) {
            super(cause.getMessage(), cause);
            this.cause = cause;
        }
    }

    /** A refusal carried out of the reader's callback. */
    private static final class UncheckedStreamException extends RuntimeException {
        final StreamException cause;

        UncheckedStreamException(StreamException cause) {
            super(cause.getMessage(), cause, false, false);
            this.cause = cause;
        }
    }
}
