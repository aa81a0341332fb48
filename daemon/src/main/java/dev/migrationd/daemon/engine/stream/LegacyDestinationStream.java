package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.PageBatch;

/**
 * The legacy stream on the destination side, through {@link LegacyStreamReader}: page batches, TSC_INFO,
 * VCPU_INFO, the markers and the end here; the guest type's header, chunks and tail through its ops.
 * Checkpointed streams, TMEM and compressed pages are refused. Confined to the feeding thread.
 */
final class LegacyDestinationStream extends DestinationStream {

    LegacyDestinationStream(Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        super(domain, shape, onStopAndCopy, "its tail was complete", "ENABLE_VERIFY_MODE",
                ChunkType.ENABLE_VERIFY_MODE.code());
        StreamLimits limits = StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize());
        LegacyStreamReader reader = new LegacyStreamReader(
                LegacyStreamReader.Options.of(LegacySourceStream.TOOLSTACK_WIDTH, shape.guestType()).withLimits(limits),
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
            case LegacyItem.TscInfo t -> stopAndCopy(new PlatformState.TscInfo(t.tscMode(), t.nsec(), t.khz(), t.incarnation()));
            case LegacyItem.VcpuInfo v -> {
                if (v.maxVcpuId() >= shape.vcpus()) {
                    throw new RecordException(item.itemName(), ChunkType.VCPU_INFO.code(), offset(),
                            "max vcpu id " + v.maxVcpuId() + " beyond the offer's " + shape.vcpus() + " vcpus");
                }
            }
            case LegacyItem.Marker m -> {
                switch (m.type()) {
                    case ENABLE_VERIFY_MODE -> startVerify();
                    case LAST_CHECKPOINT -> {
                    }
                    default -> throw new RecordException(item.itemName(), m.type().code(), offset(),
                            "not supported by this daemon");
                }
            }
            case LegacyItem.EndOfBody e -> {
            }
            case LegacyItem.Toolstack t -> {
                // the toolstack's own chunk: no toolstack state behind the hypervisor interface
            }
            case LegacyItem.CheckpointEnd c -> {
                if (!c.last()) {
                    throw new RecordException(item.itemName(), 0, offset(), "checkpointed streams are not accepted");
                }
                markComplete();
            }
            case LegacyItem.Tmem t -> throw unsupported(item);
            case LegacyItem.TmemExtra t -> throw unsupported(item);
            case LegacyItem.CompressedData c -> throw unsupported(item);
            default -> guest.applyLegacy(item);
        }
    }

    private RecordException unsupported(LegacyItem item) {
        return new RecordException(item.itemName(), 0, offset(), "not supported by this daemon");
    }
}
