package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.guest.GuestOps;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The save stream on the source side, in one format ({@link LegacySourceStream}, {@link V2SourceStream}):
 * what the generic loops (the outgoing migration, the file save, the page sender) call at each step. The
 * guest type's parts come from its {@link GuestOps.Source}; the format classes never look at the guest type.
 * Methods are called in this order: header; page batches (any number, also after the stop); stop-and-copy
 * (guest paused); [verify start, batches]; end of body; tail. {@link DestinationStream} reads what this writes.
 *
 * <p>Confined to the thread that drives the stream.
 */
public abstract sealed class SourceStream permits LegacySourceStream, V2SourceStream {

    /** The guest type's part of the stream. */
    protected final GuestOps.Source guest;

    SourceStream(Domain domain, DomainInfo info) {
        this.guest = GuestOps.source(domain, info);
    }

    /** The stream of {@code format} for {@code domain}, written to {@code out}. */
    public static SourceStream of(MigrationOptions.StreamFormat format, StreamOut out, Domain domain, DomainInfo info) {
        return switch (format) {
            case LEGACY -> new LegacySourceStream(out, domain, info);
            case V2 -> new V2SourceStream(out, domain, info);
        };
    }

    /** The stream's header and static data, before any page. */
    public abstract void writeHeader() throws IOException, HypervisorException;

    /**
     * One batch of pages: {@code pfns[0..n)} with their types; {@code dataPages} holds one 4096-byte view
     * per entry whose type carries data, in order. The views stay valid until the stream's sink has
     * written them. Returns whether anything was written (legacy writes no batch of only invalid PFNs).
     */
    public abstract boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException;

    /**
     * As {@link #writePages}, for a batch whose entries all carry data and whose pages lie back to back in
     * {@code data} ({@code n} × 4096 bytes): the stream bytes are the same, the sink gets one buffer.
     */
    public final void writeContiguousPages(long[] pfns, PageType[] types, int n, MemorySegment data) throws IOException {
        for (int i = 0; i < n; i++) {
            if (!types[i].hasData()) {
                throw new IllegalArgumentException("entry " + i + " (" + types[i] + ") carries no data");
            }
        }
        writeContiguous(pfns, types, n, data);
    }

    /** {@link #writeContiguousPages} in this format, its entries checked. */
    abstract void writeContiguous(long[] pfns, PageType[] types, int n, MemorySegment data) throws IOException;

    /** The guest was just paused: the final round follows. */
    public abstract void writeStopAndCopy(TscInfo tsc) throws IOException;

    /** Verify mode: every page is sent once more and the receiver compares instead of writing. */
    public abstract void writeVerifyStart() throws IOException;

    /** After the last page batch (guest paused). */
    public abstract void writeEndOfBody() throws IOException, HypervisorException;

    /** The tail: vCPU and platform state; the stream is complete afterwards. */
    public abstract void writeTail() throws IOException, HypervisorException;
}
