package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The legacy (Xen 4.0–4.5) stream on the source side, through {@link LegacyStreamWriter}: page batches,
 * TSC_INFO at the pause, the verify marker here; header, end of body and tail from the guest type's ops.
 * Confined to the stream's thread.
 */
final class LegacySourceStream extends SourceStream {

    /** Toolstack width of every legacy stream this daemon writes and reads (a 64-bit toolstack). */
    static final Width TOOLSTACK_WIDTH = Width.W64;

    private final LegacyStreamWriter writer;

    LegacySourceStream(StreamOut out, Domain domain, DomainInfo info) {
        super(domain, info);
        this.writer = new LegacyStreamWriter(out, TOOLSTACK_WIDTH, info.guestType());
    }

    @Override
    public void writeHeader() throws IOException, HypervisorException {
        guest.writeLegacyHeader(writer);
    }

    @Override
    public boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException {
        int[] entries = entries(pfns, types, n);
        boolean real = false;
        for (int i = 0; i < n; i++) {
            real |= types[i] != PageType.XTAB;
        }
        if (!real) {
            return false; // a batch of only XTAB entries must not be written (docs/wire-format-legacy.md §5.1)
        }
        writer.write(PageBatch.of(entries, dataPages));
        return true;
    }

    @Override
    void writeContiguous(long[] pfns, PageType[] types, int n, MemorySegment data) throws IOException {
        writer.write(PageBatch.ofContiguous(entries(pfns, types, n), data));
    }

    private static int[] entries(long[] pfns, PageType[] types, int n) {
        int[] entries = new int[n];
        for (int i = 0; i < n; i++) {
            PageType t = types[i];
            // legacy writes an invalid PFN as the bare XTAB value, without its PFN (docs/wire-format-legacy.md §5.1)
            entries[i] = t == PageType.XTAB ? PageType.XTAB.pfinfo() : t.pfinfo() | (int) pfns[i];
        }
        return entries;
    }

    @Override
    public void writeStopAndCopy(TscInfo tsc) throws IOException {
        writer.writeTscInfo(tsc);
    }

    @Override
    public void writeVerifyStart() throws IOException {
        writer.writeMarker(ChunkType.ENABLE_VERIFY_MODE);
    }

    @Override
    public void writeEndOfBody() throws IOException, HypervisorException {
        guest.writeLegacyEndOfBody(writer);
    }

    @Override
    public void writeTail() throws IOException, HypervisorException {
        guest.writeLegacyTail(writer);
    }
}
