package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * An incremental, push-based reader of a legacy libxc save stream (docs/wire-format-legacy.md). Feed it bytes in any
 * split with {@link #feed(ByteBuffer)} — one byte at a time yields exactly the items one buffer yields — and
 * call {@link #finish()} at end of input. Items go to the consumer in stream order, synchronously, from inside
 * {@code feed}/{@code finish}.
 *
 * <p><b>Views.</b> A {@link PageBatch}'s pages are views of the buffer passed to {@code feed} (when the whole
 * batch's data is in it) or of the reader's internal accumulation buffer (when it straddles feeds). They are
 * valid only until the consumer returns; {@link PageBatch#detach()} keeps a copy. Every other item is immutable.
 *
 * <p><b>End of stream.</b> Once the last checkpoint is complete ({@link #isComplete()}), {@code feed} consumes no
 * more bytes and leaves them in the buffer (the daemon's envelope follows the stream on the same connection).
 * A checkpointed (Remus) stream without LAST_CHECKPOINT ends with EOF at a checkpoint boundary.
 *
 * <p><b>Validation.</b> Every length and count is checked against {@link StreamLimits} and the spec before it
 * sizes anything, and buffers grow only as bytes actually arrive, so a lying length costs at most the bytes
 * sent. Errors are {@link StreamFatalException} (framing lost: unknown chunk id, impossible length,
 * truncation) or {@link RecordException} (bad content), naming the item, its code (hex) and the byte offset
 * where the item starts. After an error the reader is poisoned: every further call throws.
 *
 * <p><b>What it accepts.</b> What libxc's restore (Xen 4.5) accepts, where it differs from Xen's converter
 * (docs/wire-format-legacy.md §15): an input no Xen sender writes but libxc takes (a duplicate PFN, page type 0x8,
 * an image without extended info, ...) is read as libxc reads it and reported to the {@link WarningListener}.
 *
 * <p><b>Inside.</b> This class holds the options and the poisoned state; a {@code Framer} gathers the bytes of the
 * field being read and counts offsets, and sections ({@code HeaderSection}, {@code BodySection} with
 * {@code BatchPages}, {@code TailSection}) say what comes next and let each record read itself.
 *
 * <p>Threading: confined to the thread that feeds it (the connection's event loop or a test); not thread-safe.
 * A consumer that throws leaves the reader unusable.
 */
public final class LegacyStreamReader {

    /**
     * @param width        the saving toolstack's width W, or null to detect it from octets 4–7 (§2)
     * @param guestType    PV or HVM, or null to detect it (PV iff the W bytes after p2m_size are all 0xFF)
     * @param checkpointed a Remus stream: after a checkpoint without LAST_CHECKPOINT another may follow
     * @param limits       bounds for every length read from the stream
     * @param warnings     told of each input accepted although no Xen sender writes it ({@link Leniency})
     */
    public record Options(Width width, GuestType guestType, boolean checkpointed, StreamLimits limits,
                          WarningListener warnings) {
        public Options {
            Objects.requireNonNull(limits, "limits");
            Objects.requireNonNull(warnings, "warnings");
        }

        /** Options whose warnings go to {@link #LOG}. */
        public Options(Width width, GuestType guestType, boolean checkpointed, StreamLimits limits) {
            this(width, guestType, checkpointed, limits, LOG);
        }

        /** Detect width and guest type; single checkpoint; default limits. */
        public static Options detect() {
            return new Options(null, null, false, StreamLimits.DEFAULT);
        }

        public static Options of(Width width, GuestType guestType) {
            return new Options(width, guestType, false, StreamLimits.DEFAULT);
        }

        public Options withWidth(Width w) {
            return new Options(w, guestType, checkpointed, limits, warnings);
        }

        public Options withGuestType(GuestType g) {
            return new Options(width, g, checkpointed, limits, warnings);
        }

        public Options withCheckpointed(boolean c) {
            return new Options(width, guestType, c, limits, warnings);
        }

        public Options withLimits(StreamLimits l) {
            return new Options(width, guestType, checkpointed, l, warnings);
        }

        public Options withWarnings(WarningListener w) {
            return new Options(width, guestType, checkpointed, limits, w);
        }
    }

    /**
     * The kinds of input the reader accepts because libxc's restore (Xen 4.5) accepts them, although no Xen 4.x
     * sender writes them (docs/wire-format-legacy.md §15 lists each with what libxc does).
     */
    public enum Leniency {
        /** An extended-info block other than vcpu/extv/xcnt: skipped (§3.1). */
        UNKNOWN_EXT_BLOCK,
        /** An extended-info block given twice: the later one counts (§3.1). */
        REPEATED_EXT_BLOCK,
        /** An {@code extv} block with data: the data is skipped (§3.1). */
        EXTV_WITH_DATA,
        /** No extended info (a pre-3.0 image) or none with a {@code vcpu} block: the guest width is W (§3.1). */
        NO_VCPU_BLOCK,
        /** Page type nibble 0x8 (pin bit on a plain page): a normal page (§5.1). */
        PINNED_PLAIN_PAGE,
        /** A batch of only bare XTAB entries: nothing to do (§5.1). */
        XTAB_ONLY_BATCH,
        /** A PFN twice in one batch: both pages arrive, the later one counts (§5.1). */
        DUPLICATE_PFN,
        /** A PV body without VCPU_INFO: libxc's default, vCPU 0 only (§6.2). */
        NO_VCPU_INFO,
        /** An HVM-only chunk in a PV stream: read and ignored (§6.3). */
        HVM_CHUNK_IN_PV,
        /** A PV XSAVE record whose size is below {@code xcnt − 16}: the rest of the record is skipped (§7.1). */
        SHORT_XSAVE
    }

    /**
     * One accepted-but-unusual input: its kind, the item and code it belongs to, the stream offset where the item
     * starts, and what was found.
     */
    public record Warning(Leniency kind, String item, long code, long offset, String message) {
        /** One line of key=value fields. */
        @Override
        public String toString() {
            return "kind=" + kind + " item=" + item + " code=0x" + (code < 0 ? Integer.toHexString((int) code)
                    : Long.toHexString(code)) + " offset=" + offset + " warning=\"" + message + "\"";
        }
    }

    /**
     * Told of each input the reader accepts although no Xen sender writes it; called on the feeding thread. The
     * reader reports at most {@link #MAX_WARNINGS_PER_KIND} of each kind, then one saying that further ones are
     * not reported, so a stream cannot flood the log.
     */
    @FunctionalInterface
    public interface WarningListener {
        void warn(Warning warning);
    }

    /** Warnings of one {@link Leniency} reported per reader; further ones are counted, not reported. */
    public static final int MAX_WARNINGS_PER_KIND = 16;

    private static final System.Logger LOGGER = System.getLogger(LegacyStreamReader.class.getName());

    /**
     * The default listener: one WARNING line per warning through the JDK's {@link System.Logger} (this module
     * uses no logging library; the daemon passes its own listener).
     */
    public static final WarningListener LOG = w -> LOGGER.log(System.Logger.Level.WARNING,
            "legacy stream input accepted " + w);

    /**
     * Receives the pages of each batch one at a time, as soon as each page is complete, so the receiver can copy
     * straight from the fed buffer into guest memory (one copy, even when batches straddle feeds). With a listener,
     * each {@link PageBatch} item (entries only, {@link PageBatch#pagesStreamed()}) is delivered first, then its
     * data pages in entry order.
     */
    @FunctionalInterface
    public interface PageListener {
        /**
         * @param batch      the batch the page belongs to (delivered just before)
         * @param entryIndex index of the page's entry in the batch
         * @param page       a little-endian 4096-byte view, valid only during this call
         */
        void page(PageBatch batch, int entryIndex, ByteBuffer page);
    }

    private final Framer in;
    private final HeaderSection header;
    private final BodySection body;
    private StreamException failure;

    public LegacyStreamReader(Options options, Consumer<? super LegacyItem> consumer) {
        this(options, consumer, null);
    }

    /** A reader that hands page data to {@code pages} page by page (see {@link PageListener}); null = whole batches. */
    public LegacyStreamReader(Options options, Consumer<? super LegacyItem> consumer, PageListener pages) {
        Objects.requireNonNull(options);
        this.in = new Framer(options.limits(), Objects.requireNonNull(consumer), options.width(), options.warnings());
        this.body = new BodySection(in, options.checkpointed(), pages);
        this.header = new HeaderSection(in, options.guestType(), body);
        header.begin();
    }

    /** Reads a whole stream held in one buffer; page batches are detached copies. */
    public static List<LegacyItem> readAll(ByteBuffer stream, Options options) throws StreamException {
        List<LegacyItem> items = new ArrayList<>();
        LegacyStreamReader r = new LegacyStreamReader(options, item -> items.add(
                item instanceof PageBatch b ? b.detach() : item));
        r.feed(stream.duplicate());
        r.finish();
        return items;
    }

    /** The toolstack width, given or detected (null until detected). */
    public Width width() {
        return in.width();
    }

    /** The guest type, given or detected (null until detected). */
    public GuestType guestType() {
        return header.guestType();
    }

    /** The guest width of a PV stream once its header is read (null for HVM or before). */
    public Width guestWidth() {
        return header.guestWidth();
    }

    /** Bytes consumed so far. */
    public long offset() {
        return in.offset();
    }

    /** Whether the stream is complete; further bytes are not consumed. */
    public boolean isComplete() {
        return in.isDone();
    }

    /** How many inputs of this kind the reader has accepted so far (reported or not). */
    public long warnings(Leniency kind) {
        return in.warnings(kind);
    }

    /** Index of the checkpoint being read (from 0). */
    public int checkpoint() {
        return body.checkpoint();
    }

    /**
     * Consumes bytes from {@code in} (advancing its position) and delivers every item they complete. Stops early
     * only when the stream is complete, leaving the rest in {@code in}.
     */
    public void feed(ByteBuffer bytes) throws StreamException {
        checkUsable();
        try {
            in.feed(bytes);
        } catch (StreamException e) {
            failure = e;
            throw e;
        }
    }

    /** End of input: delivers a to-EOF QEMU record, accepts EOF at a checkpoint boundary, else reports truncation. */
    public void finish() throws StreamException {
        checkUsable();
        try {
            in.finish();
        } catch (StreamException e) {
            failure = e;
            throw e;
        }
    }

    /** After an error the reader is poisoned: the first error is what every further call reports. */
    private void checkUsable() throws StreamException {
        if (failure != null) {
            throw new StreamFatalException(failure.item(), failure.code(), failure.offset(),
                    "reader failed earlier: " + failure.getMessage(), failure);
        }
    }
}
