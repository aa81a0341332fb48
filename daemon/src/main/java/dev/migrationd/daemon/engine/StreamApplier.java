package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.CompressedData;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.Tmem;
import dev.migrationd.protocol.legacy.TmemExtra;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * Applies a legacy save stream to a domain being restored (paused): pages straight from the fed buffer
 * (the socket buffer) into {@link GuestMemory#writePage}, one by one as the reader completes them (its
 * {@link LegacyStreamReader.PageListener}), so no page is assembled in between, metadata and the tail through the
 * guest type's {@link GuestOps.Restore}. In verify mode (after {@code ENABLE_VERIFY_MODE}) pages are
 * compared with what is already there instead of written; any difference fails the restore.
 *
 * <p>The reader validates framing and bounds (PFNs within the offer's p2m size, types, counts);
 * this class checks what only the engine knows (the offer's shape). Confined to one thread.
 */
final class StreamApplier implements Consumer<LegacyItem>, StreamInput {

    /** Toolstack width of every stream this daemon writes and reads (a 64-bit toolstack). */
    static final Width TOOLSTACK_WIDTH = Width.W64;

    private final Domain domain;
    private final DomainShape shape;
    private final GuestOps.Restore ops;
    private final LegacyStreamReader reader;
    private final Runnable onStopAndCopy;
    private boolean verifying;
    private final VerifyTally verify = new VerifyTally();
    private long pages;
    private boolean complete;
    private Failure failure;

    /** Carries a checked failure out of the reader's consumer. */
    static final class Failure extends RuntimeException {
        Failure(Exception cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /**
     * @param onStopAndCopy called when TSC_INFO arrives: the source has just paused the guest (downtime
     *                      starts here, as the destination sees it)
     */
    StreamApplier(Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        this.domain = domain;
        this.shape = shape;
        this.ops = GuestOps.restore(domain, shape);
        this.onStopAndCopy = onStopAndCopy;
        StreamLimits limits = StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize());
        this.reader = new LegacyStreamReader(
                LegacyStreamReader.Options.of(TOOLSTACK_WIDTH, shape.guestType()).withLimits(limits), this, this::page);
    }

    /** Feeds stream bytes; throws the first failure (stream or hypervisor). */
    @Override
    public void feed(ByteBuffer data) throws StreamException, HypervisorException {
        try {
            reader.feed(data);
        } catch (Failure f) {
            rethrow(f);
        }
    }

    /** End of input (files): accepts only a complete stream. */
    @Override
    public void finish() throws StreamException, HypervisorException {
        try {
            reader.finish();
        } catch (Failure f) {
            rethrow(f);
        }
    }

    @Override
    public boolean complete() {
        return complete;
    }

    @Override
    public long offset() {
        return reader.offset();
    }

    @Override
    public long pages() {
        return pages;
    }

    /** Applies the collected state; fails if verify mode found differences. */
    @Override
    public void completeRestore() throws StreamException, HypervisorException {
        if (!complete) {
            throw new RecordException("STREAM", 0, reader.offset(), "stream ended before its tail was complete");
        }
        verify.check("ENABLE_VERIFY_MODE", ChunkType.ENABLE_VERIFY_MODE.code(), reader.offset());
        ops.complete();
        // the backend's end-of-restore steps (Xen PV: pin tables, load vCPUs) run here, before Received:
        // a failure must come before the commit point, never at the unpause after Go
        domain.completeRestore();
    }

    /** The cause a reader callback wrapped in a {@link Failure}, rethrown as what it was. */
    static void rethrow(Failure f) throws StreamException, HypervisorException {
        switch (f.getCause()) {
            case StreamException se -> throw se;
            case HypervisorException he -> throw he;
            default -> throw f;
        }
    }

    @Override
    public void accept(LegacyItem item) {
        if (failure != null) {
            throw failure;
        }
        try {
            apply(item);
        } catch (StreamException | HypervisorException e) {
            failure = new Failure(e);
            throw failure;
        }
    }

    private void apply(LegacyItem item) throws StreamException, HypervisorException {
        PlatformState p = domain.platform();
        switch (item) {
            case PageBatch b -> applyBatch(b);
            case TscInfoChunk t -> {
                onStopAndCopy.run();
                p.setTscInfo(t.tsc());
            }
            case VcpuInfo v -> {
                if (v.maxVcpuId() >= shape.vcpus()) {
                    throw new RecordException(item.itemName(), ChunkType.VCPU_INFO.code(), reader.offset(),
                            "max vcpu id " + v.maxVcpuId() + " beyond the offer's " + shape.vcpus() + " vcpus");
                }
            }
            case Marker m -> {
                switch (m.type()) {
                    case ENABLE_VERIFY_MODE -> verifying = true;
                    case LAST_CHECKPOINT -> {
                    }
                    default -> throw new RecordException(item.itemName(), m.type().code(), reader.offset(),
                            "not supported by this daemon");
                }
            }
            case EndOfBody e -> {
            }
            case CheckpointEnd c -> {
                if (!c.last()) {
                    throw new RecordException(item.itemName(), 0, reader.offset(), "checkpointed streams are not accepted");
                }
                complete = true;
            }
            case Tmem t -> throw unsupported(item);
            case TmemExtra t -> throw unsupported(item);
            case CompressedData c -> throw unsupported(item);
            default -> ops.accept(item);
        }
    }

    private RecordException unsupported(LegacyItem item) {
        return new RecordException(item.itemName(), 0, reader.offset(), "not supported by this daemon");
    }

    /**
     * A batch's entries (its pages follow one by one through {@link #page}): checks every PFN against the
     * offer and records the entries that carry no data.
     */
    private void applyBatch(PageBatch b) throws StreamException, HypervisorException {
        GuestMemory memory = domain.memory();
        for (int i = 0; i < b.count(); i++) {
            PageType t = b.type(i);
            if (t == PageType.XTAB) {
                continue; // written without a PFN; nothing to do
            }
            long pfn = b.pfn(i);
            if (pfn >= shape.p2mSize()) {
                throw new RecordException("PAGE_BATCH", b.count(), reader.offset(),
                        "pfn 0x" + Long.toHexString(pfn) + " beyond p2m_size 0x" + Long.toHexString(shape.p2mSize()));
            }
            if (!t.hasData() && !verifying) {
                memory.populateOnly(pfn, t);
            }
        }
    }

    /** One data page, straight from the fed buffer (the socket buffer) into the domain's memory. */
    private void page(PageBatch b, int entry, ByteBuffer page) {
        if (failure != null) {
            throw failure;
        }
        try {
            long pfn = b.pfn(entry);
            MemorySegment src = MemorySegment.ofBuffer(page);
            if (verifying) {
                verifyPage(pfn, src);
            } else {
                domain.memory().writePage(pfn, b.type(entry), src);
                pages++;
            }
        } catch (HypervisorException e) {
            failure = new Failure(e);
            throw failure;
        }
    }

    private void verifyPage(long pfn, MemorySegment got) throws HypervisorException {
        verify.compare(domain, pfn, got);
    }
}
