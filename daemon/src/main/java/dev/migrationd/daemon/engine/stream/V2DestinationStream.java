package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;

/**
 * The Xen migration stream v2 (libxc layer) on the destination side, through {@link LibxcReader}: the
 * headers (the domain header must name the offer's guest type), PAGE_DATA, X86_TSC_INFO, the CPU policy
 * records, the signals and END here; the guest type's records (and what it needs before memory and before
 * END) through its ops. Checkpointed streams are refused. Confined to the feeding thread.
 */
final class V2DestinationStream extends DestinationStream {

    V2DestinationStream(Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        super(domain, shape, onStopAndCopy, "END", RecordType.VERIFY.name(), RecordType.VERIFY.code());
        LibxcReader reader = new LibxcReader(StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize()),
                item -> step(() -> apply(item)), (record, entry, page) -> page(record.pfn(entry), record.pageType(entry), page));
        readWith(reader::feed, reader::finish, reader::offset);
    }

    private RecordException bad(RecordType t, String problem) {
        return new RecordException(t.name(), t.code(), offset(), problem);
    }

    private void apply(LibxcItem item) throws StreamException, HypervisorException {
        switch (item) {
            case ImageHeader h -> {
            }
            case DomainHeader h -> {
                if (h.guestType() != shape.guestType()) {
                    throw new RecordException(DomainHeader.ITEM, 0, offset(), "a " + h.guestType()
                            + " stream for a " + shape.guestType() + " domain");
                }
            }
            case PageData pd -> {
                guest.checkV2Memory();
                for (int i = 0; i < pd.count(); i++) {
                    entry(RecordType.PAGE_DATA.name(), RecordType.PAGE_DATA.code(), pd.pfn(i), pd.pageType(i));
                }
            }
            case TscInfoRecord t -> stopAndCopy(t.tsc());
            case BlobRecord b when b.type() == RecordType.X86_CPUID_POLICY || b.type() == RecordType.X86_MSR_POLICY -> {
                // no CPU policy behind the hypervisor interface: validated by the reader only
            }
            case SignalRecord s when s.type() == RecordType.STATIC_DATA_END -> {
            }
            case SignalRecord s when s.type() == RecordType.VERIFY -> startVerify();
            case SignalRecord s when s.type() == RecordType.END -> {
                guest.checkV2End();
                markComplete();
            }
            case SignalRecord s -> throw bad(s.type(), "not supported by this daemon (checkpointed streams are not accepted)");
            default -> {
                if (!guest.applyV2(item)) {
                    throw item instanceof BlobRecord b ? bad(b.type(), "not supported by this daemon")
                            : new RecordException(item.getClass().getSimpleName(), 0, offset(), "not supported by this daemon");
                }
            }
        }
    }
}
