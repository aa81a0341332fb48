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
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.V2Item;
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
    /**
     * Exactly one of these three is set: the v2 libxc reader (bytes passed through inside libxl's framing), the
     * libxl reader (a libxl v2 stream, as in an xl save file, passed through as it is) or the legacy converter.
     */
    private final LibxcReader v2;
    private final LibxlReader libxlIn;
    private final LegacyToV2Pipeline legacy;
    private final LibxlWriter libxl;
    private long pages;
    private boolean headerWritten;
    private boolean complete;
    private Domain domain;

    /** What arrives: a stream in one of migrationd's formats, or a libxl v2 stream as xl writes into its files. */
    public enum Input { LEGACY, V2_LIBXC, V2_LIBXL }

    private ToolstackDestinationStream(Input input, StreamRestore restore, GuestType guestType, StreamLimits limits,
                                       Runnable onStopAndCopy, Duration finishTimeout) {
        this.restore = Objects.requireNonNull(restore, "restore");
        this.onStopAndCopy = onStopAndCopy;
        this.finishTimeout = finishTimeout;
        this.libxl = new LibxlWriter(this::toToolstack);
        this.v2 = input == Input.V2_LIBXC ? new LibxcReader(limits, this::onV2Item, (record, entry, page) -> pages++) : null;
        this.libxlIn = input == Input.V2_LIBXL ? new LibxlReader(limits, this::onV2Item, (record, entry, page) -> pages++)
                : null;
        this.legacy = input == Input.LEGACY ? new LegacyToV2Pipeline(
                LegacyStreamReader.Options.of(LegacySourceStream.TOOLSTACK_WIDTH, guestType).withLimits(limits),
                LegacyToV2Converter.Format.LIBXL, true, false, this::toToolstack, this::onLegacyItem) : null;
    }

    private static Input input(MigrationOptions.StreamFormat format) {
        return format == MigrationOptions.StreamFormat.V2 ? Input.V2_LIBXC : Input.LEGACY;
    }

    private void onV2Item(V2Item item) {
        if (item instanceof TscInfoRecord) {
            onStopAndCopy.run(); // the source paused the guest just before
        } else if (item instanceof SignalRecord s && s.type() == RecordType.CHECKPOINT) {
            throw new UncheckedStreamException(new RecordException(s.type().name(), s.type().code(), offset(),
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
        return of(format, restore, shape, onStopAndCopy, FINISH_TIMEOUT);
    }

    /** As {@link #of}, with another bound on the toolstack's work after the stream (tests). */
    static ToolstackDestinationStream of(MigrationOptions.StreamFormat format, StreamRestore restore, DomainShape shape,
                                         Runnable onStopAndCopy, Duration finishTimeout) {
        return new ToolstackDestinationStream(input(format), restore, shape.guestType(),
                StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize()), onStopAndCopy, finishTimeout);
    }

    /**
     * The stream of a file whose guest is known only by its toolstack configuration (an xl save file): its size
     * is bounded by the protocol's default limits; {@code guestType} matters only to a legacy stream.
     */
    public static ToolstackDestinationStream ofFile(Input input, StreamRestore restore, GuestType guestType) {
        return new ToolstackDestinationStream(input, restore, guestType, StreamLimits.DEFAULT, () -> { }, FINISH_TIMEOUT);
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
            if (libxlIn != null) {
                ByteBuffer consumed = data.duplicate();
                libxlIn.feed(data);
                consumed.limit(data.position());
                toToolstack(consumed);
                complete = libxlIn.isDone();
            } else if (v2 != null) {
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
        return libxlIn != null ? libxlIn.offset() : v2 != null ? v2.offset() : legacy.offset();
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
