package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The save-stream format on the source side (STYLE.md 10): what the generic loops ({@link OutgoingMigration},
 * {@link SaveRestore}, {@link PageSender}) call at each step, written as a legacy stream (the guest type's
 * {@link GuestOps.Save}) or a v2 stream ({@link V2Writer}). Methods are called in this order: header; page
 * batches (any number, also after the stop); stop-and-copy (guest paused); [verify start, batches]; end of
 * body; tail. Confined to the thread that drives the stream.
 */
sealed interface FormatWriter permits FormatWriter.Legacy, V2Writer {

    static FormatWriter of(MigrationOptions.StreamFormat format, StreamOut out, Domain domain, DomainInfo info) {
        return switch (format) {
            case LEGACY -> new Legacy(out, domain, info);
            case V2 -> new V2Writer(out, domain, info);
        };
    }

    /** The stream's header and static data, before any page. */
    void writeHeader() throws IOException, HypervisorException;

    /**
     * One batch of pages: {@code pfns[0..n)} with their types; {@code dataPages} holds one 4096-byte view
     * per entry whose type carries data, in order. The views stay valid until the stream's sink has
     * written them. Returns whether anything was written (legacy writes no batch of only invalid PFNs).
     */
    boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException;

    /**
     * As {@link #writePages}, for a batch whose entries all carry data and whose pages lie back to back in
     * {@code data} ({@code n} × 4096 bytes): the stream bytes are the same, the sink gets one buffer.
     */
    void writeContiguousPages(long[] pfns, PageType[] types, int n, java.lang.foreign.MemorySegment data) throws IOException;

    /** What {@link #writeContiguousPages} requires of its entries: every one carries data. */
    static void requireAllCarryData(PageType[] types, int n) {
        for (int i = 0; i < n; i++) {
            if (!types[i].hasData()) {
                throw new IllegalArgumentException("entry " + i + " (" + types[i] + ") carries no data");
            }
        }
    }

    /** The guest was just paused: the final round follows. */
    void writeStopAndCopy(TscInfo tsc) throws IOException;

    /** Verify mode: every page is sent once more and the receiver compares instead of writing. */
    void writeVerifyStart() throws IOException;

    /** After the last page batch (guest paused). */
    void writeEndOfBody() throws IOException, HypervisorException;

    /** The tail: vCPU and platform state; the stream is complete afterwards. */
    void writeTail() throws IOException, HypervisorException;

    /** The legacy (Xen 4.0–4.5) stream through {@link LegacyStreamWriter} and {@link GuestOps.Save}. */
    final class Legacy implements FormatWriter {
        private final LegacyStreamWriter writer;
        private final GuestOps.Save ops;

        Legacy(StreamOut out, Domain domain, DomainInfo info) {
            this.writer = new LegacyStreamWriter(out, StreamApplier.TOOLSTACK_WIDTH, info.guestType());
            this.ops = GuestOps.save(domain, info);
        }

        @Override
        public void writeHeader() throws IOException, HypervisorException {
            ops.writeHeader(writer);
        }

        @Override
        public boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException {
            int[] entries = entries(pfns, types, n);
            boolean real = false;
            for (int i = 0; i < n; i++) {
                real |= types[i] != PageType.XTAB;
            }
            if (!real) {
                return false; // a batch of only XTAB entries must not be written (legacy-stream.md §5.1)
            }
            writer.write(PageBatch.of(entries, dataPages));
            return true;
        }

        @Override
        public void writeContiguousPages(long[] pfns, PageType[] types, int n, java.lang.foreign.MemorySegment data) throws IOException {
            FormatWriter.requireAllCarryData(types, n);
            writer.write(PageBatch.ofContiguous(entries(pfns, types, n), data));
        }

        private static int[] entries(long[] pfns, PageType[] types, int n) {
            int[] entries = new int[n];
            for (int i = 0; i < n; i++) {
                PageType t = types[i];
                // legacy writes an invalid PFN as the bare XTAB value, without its PFN (legacy-stream.md §5.1)
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
            ops.writeEndOfBody(writer);
        }

        @Override
        public void writeTail() throws IOException, HypervisorException {
            ops.writeTail(writer);
        }
    }
}
