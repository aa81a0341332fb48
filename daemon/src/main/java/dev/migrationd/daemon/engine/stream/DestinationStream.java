package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.guest.GuestOps;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;

/**
 * The save stream on the destination side, in one format ({@link LegacyDestinationStream},
 * {@link V2DestinationStream}): applies the stream, as it arrives, to a domain being restored (paused),
 * validated against the offer's (or the save file's) shape. It reads what a {@link SourceStream} writes.
 *
 * <p>Pages go straight from the fed buffer (the socket buffer) into guest memory through the format
 * reader's page listener, with no copy in between (except a page split across two feeds); after the verify
 * marker they are compared with what is already there instead, and any difference fails the restore. The
 * reader validates framing and bounds, with the offer's p2m size as its limit; the format class checks what
 * only the engine knows (the offer's shape), and the guest type's {@link GuestOps.Destination} the records
 * only that guest type has. The generic loops (the incoming migration, the file restore) know no format.
 *
 * <p>Confined to the thread that feeds it.
 */
public abstract sealed class DestinationStream implements IncomingStream permits LegacyDestinationStream, V2DestinationStream {

    /** The domain being restored (paused). */
    protected final Domain domain;
    /** The guest the offer (or the save file's metadata) announced. */
    protected final DomainShape shape;
    /** The guest type's part of the stream. */
    protected final GuestOps.Destination guest;
    private final Runnable onStopAndCopy;
    /** Completes "stream ended before …" when the stream stops short. */
    private final String endName;
    /** The item that starts verify mode, and its code, named when verification fails. */
    private final String verifyItem;
    private final long verifyCode;
    private final VerifyTally verify = new VerifyTally();
    private boolean verifying;
    private boolean complete;
    private long pages;
    /** The first failure inside a reader callback; every later callback throws it again. */
    private Failure failure;
    /** The format's reader, set once by the subclass's constructor ({@link #readWith}). */
    private Feed feed;
    private End end;
    private LongSupplier offset;

    DestinationStream(Domain domain, DomainShape shape, Runnable onStopAndCopy, String end, String verifyItem,
                      long verifyCode) {
        this.domain = domain;
        this.shape = shape;
        this.onStopAndCopy = onStopAndCopy;
        this.endName = end;
        this.verifyItem = verifyItem;
        this.verifyCode = verifyCode;
        this.guest = GuestOps.destination(domain, shape, this::offset);
    }

    /**
     * The stream of {@code format} applied to {@code domain}.
     *
     * @param onStopAndCopy called when the stream shows that the source paused the guest (legacy:
     *                      TSC_INFO before the final round; v2: X86_TSC_INFO after it)
     */
    public static DestinationStream of(MigrationOptions.StreamFormat format, Domain domain, DomainShape shape,
                                       Runnable onStopAndCopy) {
        return switch (format) {
            case LEGACY -> new LegacyDestinationStream(domain, shape, onStopAndCopy);
            case V2 -> new V2DestinationStream(domain, shape, onStopAndCopy);
        };
    }

    /** Feeds stream bytes; consumes up to the end of the stream and throws the first failure. */
    @Override
    public final void feed(ByteBuffer data) throws StreamException, HypervisorException {
        try {
            feed.feed(data);
        } catch (Failure f) {
            f.rethrow();
        }
    }

    /** End of input (files): accepts only a complete stream. */
    public final void finish() throws StreamException, HypervisorException {
        try {
            end.finish();
        } catch (Failure f) {
            f.rethrow();
        }
    }

    /** Whether the stream's last item arrived. */
    @Override
    public final boolean complete() {
        return complete;
    }

    /** Stream bytes consumed. */
    @Override
    public final long offset() {
        return offset.getAsLong();
    }

    /** Data pages written. */
    @Override
    public final long pages() {
        return pages;
    }

    /** Applies the collected state once the stream is complete; fails if verify mode found differences. */
    @Override
    public final void completeRestore() throws StreamException, HypervisorException {
        if (!complete) {
            throw new RecordException("STREAM", 0, offset(), "stream ended before " + endName);
        }
        verify.check(verifyItem, verifyCode, offset());
        guest.complete();
        // the backend's end-of-restore steps (Xen PV: pin tables, load vCPUs) run here, before Received:
        // a failure must come before the commit point, never at the unpause after Go
        domain.completeRestore();
    }

    /** A format reader's {@code feed}. */
    @FunctionalInterface
    interface Feed {
        void feed(ByteBuffer data) throws StreamException;
    }

    /** A format reader's {@code finish}: the input ended. */
    @FunctionalInterface
    interface End {
        void finish() throws StreamException;
    }

    /** The format's reader, which calls back {@link #step} with its items and {@link #page} with its pages. */
    final void readWith(Feed feed, End end, LongSupplier offset) {
        this.feed = feed;
        this.end = end;
        this.offset = offset;
    }

    /** A step of a reader callback, which may fail with what the reader's callback cannot throw. */
    @FunctionalInterface
    interface Step {
        void run() throws StreamException, HypervisorException;
    }

    /**
     * Runs a reader callback's step; a failure is kept and carried out of the reader (which stops at it), and
     * every later callback fails the same way.
     */
    final void step(Step step) {
        if (failure != null) {
            throw failure;
        }
        try {
            step.run();
        } catch (StreamException | HypervisorException e) {
            failure = new Failure(e);
            throw failure;
        }
    }

    /** The stream reached the stop-and-copy point: the source has just paused the guest. */
    final void stopAndCopy(TscInfo tsc) throws HypervisorException {
        onStopAndCopy.run();
        domain.platform().setTscInfo(tsc);
    }

    /** Verify mode: pages that follow are compared, not written. */
    final void startVerify() {
        verifying = true;
    }

    /** The stream's last item arrived. */
    final void markComplete() {
        complete = true;
    }

    /**
     * One PFN entry of a page record {@code item} ({@code code}): within the offer's p2m size; an entry
     * without data is recorded here (its data-carrying peers arrive through {@link #page}).
     */
    final void entry(String item, long code, long pfn, PageType type) throws StreamException, HypervisorException {
        if (pfn >= shape.p2mSize()) {
            throw new RecordException(item, code, offset(), "pfn 0x" + Long.toHexString(pfn) + " beyond p2m_size 0x"
                    + Long.toHexString(shape.p2mSize()));
        }
        if (!type.hasData() && !verifying) {
            domain.memory().populateOnly(pfn, type);
        }
    }

    /** One data page, straight from the fed buffer into the domain's memory (or compared, in verify mode). */
    final void page(long pfn, PageType type, ByteBuffer page) {
        step(() -> {
            MemorySegment src = MemorySegment.ofBuffer(page);
            if (verifying) {
                verify.compare(domain, pfn, src);
            } else {
                domain.memory().writePage(pfn, type, src);
                pages++;
            }
        });
    }

    /** Carries a checked failure out of a reader callback. */
    private static final class Failure extends RuntimeException {
        Failure(Exception cause) {
            super(cause.getMessage(), cause, false, false);
        }

        /** Throws the cause as what it was. */
        void rethrow() throws StreamException, HypervisorException {
            switch (getCause()) {
                case StreamException se -> throw se;
                case HypervisorException he -> throw he;
                default -> throw this;
            }
        }
    }
}
