package dev.migrationd.protocol.convert;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * A legacy stream in, a v2 stream out: a {@link LegacyStreamReader} whose items go straight into a
 * {@link LegacyToV2Converter}, push-based ({@link #feed} in any split, then {@link #finish}). Pages pass through
 * as views while the reader's callback runs; the sink must consume them synchronously unless
 * {@link LegacyToV2Converter.Options#detachPages()} is set.
 *
 * <p>Not thread-safe: one thread drives a pipeline.
 */
public final class LegacyToV2Pipeline {
    private final LegacyStreamReader reader;
    private final LegacyToV2Converter.Format format;
    private final boolean skipQemu;
    private final boolean detachPages;
    private final ByteSink sink;
    /** Sees each legacy item before it is converted; may refuse it by throwing (unchecked). */
    private final java.util.function.Consumer<? super LegacyItem> observer;
    private LegacyToV2Converter converter;
    /** The converter's checked failure, carried out of the reader's callback. */
    private Exception failure;

    /**
     * @param readerOptions legacy width and guest type (or null to detect them), checkpointed mode, limits
     */
    public LegacyToV2Pipeline(LegacyStreamReader.Options readerOptions, LegacyToV2Converter.Format format,
            boolean skipQemu, boolean detachPages, ByteSink sink) {
        this(readerOptions, format, skipQemu, detachPages, sink, item -> { });
    }

    /**
     * As above, with {@code observer} seeing each legacy item before it is converted (a receiver that must know
     * where the stream is, e.g. at TSC_INFO, or refuse an item); a runtime exception it throws ends the feed.
     */
    public LegacyToV2Pipeline(LegacyStreamReader.Options readerOptions, LegacyToV2Converter.Format format,
            boolean skipQemu, boolean detachPages, ByteSink sink, java.util.function.Consumer<? super LegacyItem> observer) {
        this.observer = java.util.Objects.requireNonNull(observer, "observer");
        this.format = format;
        this.skipQemu = skipQemu;
        this.detachPages = detachPages;
        this.sink = sink;
        this.reader = new LegacyStreamReader(readerOptions, this::onItem);
    }

    private void onItem(LegacyItem item) {
        if (failure != null) {
            throw new ConversionAborted();
        }
        observer.accept(item);
        try {
            if (converter == null) {
                Width w = reader.width();
                converter = new LegacyToV2Converter(new LegacyToV2Converter.Options(format, w, skipQemu, detachPages),
                        sink);
            }
            converter.setSourceOffset(reader.offset());
            converter.accept(item);
        } catch (IOException | StreamException e) {
            failure = e;
            throw new ConversionAborted();
        }
    }

    /** Consumes {@code in} (bytes after the end of the legacy stream are left in it). */
    public void feed(ByteBuffer in) throws IOException, StreamException {
        try {
            reader.feed(in);
        } catch (ConversionAborted e) {
            rethrow();
        }
        if (failure != null) {
            rethrow();
        }
    }

    public void finish() throws IOException, StreamException {
        try {
            reader.finish();
        } catch (ConversionAborted e) {
            rethrow();
        }
        if (failure != null) {
            rethrow();
        }
        if (converter == null) {
            throw new dev.migrationd.protocol.StreamFatalException("STREAM", 0, reader.offset(),
                    "the legacy stream ended before its header");
        }
        converter.finish();
    }

    /** Whether the legacy stream's last checkpoint was read ({@link #finish} then writes the v2 END records). */
    public boolean isComplete() {
        return reader.isComplete();
    }

    /** Legacy stream bytes consumed. */
    public long offset() {
        return reader.offset();
    }

    /** Checkpoints converted so far. */
    public int checkpoints() {
        return converter == null ? 0 : converter.checkpoints();
    }

    /** Converts a whole legacy stream held in one buffer. */
    public static void convert(ByteBuffer legacy, LegacyStreamReader.Options readerOptions,
            LegacyToV2Converter.Format format, ByteSink sink) throws IOException, StreamException {
        LegacyToV2Pipeline p = new LegacyToV2Pipeline(readerOptions, format, false, false, sink);
        p.feed(legacy);
        p.finish();
    }

    private void rethrow() throws IOException, StreamException {
        Exception f = failure;
        if (f instanceof IOException io) {
            throw io;
        }
        if (f instanceof StreamException se) {
            throw se;
        }
        throw new UncheckedIOException(new IOException("conversion aborted", f));
    }

    /** Unwinds the reader's callback after the converter failed; never escapes this class. */
    private static final class ConversionAborted extends RuntimeException {
        ConversionAborted() {
            super(null, null, false, false);
        }
    }
}
