package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
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
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The legacy stream on the destination side, through {@link LegacyStreamReader}: page batches, TSC_INFO,
 * VCPU_INFO, the markers and the end here; the guest type's header, chunks and tail through its ops.
 * Checkpointed streams, TMEM and compressed pages are refused. Input the reader accepts only because libxc's restore
 * does (a duplicate PFN, a page type 0x8, ...) is logged, one line per occurrence up to the reader's limit. Confined
 * to the feeding thread.
 */
final class LegacyDestinationStream extends DestinationStream {
    private static final Logger LOG = LoggerFactory.getLogger(LegacyDestinationStream.class);

    LegacyDestinationStream(Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        super(domain, shape, onStopAndCopy, "its tail was complete", "ENABLE_VERIFY_MODE",
                ChunkType.ENABLE_VERIFY_MODE.code());
        StreamLimits limits = StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize());
        LegacyStreamReader reader = new LegacyStreamReader(
                LegacyStreamReader.Options.of(LegacySourceStream.TOOLSTACK_WIDTH, shape.guestType()).withLimits(limits)
                        .withWarnings(w -> LOG.warn("event=legacy_input_accepted domain={} {}", shape.name(), w)),
                item -> step(() -> apply(item)), (batch, entry, page) -> page(batch.pfn(entry), batch.type(entry), page));
        readWith(reader::feed, reader::finish, reader::offset);
    }

    private void apply(LegacyItem item) throws StreamException, HypervisorException {
        switch (item) {
            case PageBatch b -> {
                for (int i = 0; i < b.count(); i++) {
                    if (b.type(i) != PageType.XTAB) { // an invalid PFN is written without its PFN: nothing to do
                        entry("PAGE_BATCH", b.count(), b.pfn(i), b.type(i));
                    }
                }
            }
            case TscInfoChunk t -> stopAndCopy(t.tsc());
            case VcpuInfo v -> {
                if (v.maxVcpuId() >= shape.vcpus()) {
                    throw new RecordException(item.itemName(), ChunkType.VCPU_INFO.code(), offset(),
                            "max vcpu id " + v.maxVcpuId() + " beyond the offer's " + shape.vcpus() + " vcpus");
                }
            }
            case Marker m -> {
                switch (m.type()) {
                    case ENABLE_VERIFY_MODE -> startVerify();
                    case LAST_CHECKPOINT -> {
                    }
                    default -> throw new RecordException(item.itemName(), m.type().code(), offset(),
                            "not supported by this daemon");
                }
            }
            case EndOfBody e -> {
            }
            case Toolstack t -> {
                // the toolstack's own chunk: no toolstack state behind the hypervisor interface
            }
            case CheckpointEnd c -> {
                if (!c.last()) {
                    throw new RecordException(item.itemName(), 0, offset(), "checkpointed streams are not accepted");
                }
                markComplete();
            }
            case Tmem t -> throw unsupported(item);
            case TmemExtra t -> throw unsupported(item);
            case CompressedData c -> throw unsupported(item);
            default -> guest.applyLegacy(item);
        }
    }

    private RecordException unsupported(LegacyItem item) {
        return new RecordException(item.itemName(), 0, offset(), "not supported by this daemon");
    }
}
