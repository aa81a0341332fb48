package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends the pages a bitmap names, in batches of up to {@link StreamLimits#MAX_BATCH_SIZE}: maps them,
 * hands the mapping's page views to the stream writer (no copy), waits for the sink to take them,
 * unmaps. Applies the bandwidth cap and calls the cancellation checkpoint between batches.
 *
 * <p>Confined to the migration's thread.
 */
final class PageSender {

    /** Called between batches; throws to stop (cancellation). */
    @FunctionalInterface
    interface Checkpoint {
        void check() throws MigrationAbort;
    }

    private final GuestMemory memory;
    private final LegacyStreamWriter writer;
    private final StreamOut out;
    private final long bandwidthCap;
    private final Ticker ticker;
    private final Checkpoint checkpoint;
    private final long[] pfns = new long[StreamLimits.MAX_BATCH_SIZE];
    private final int[] entries = new int[StreamLimits.MAX_BATCH_SIZE];
    private final long capStartNanos;
    private final long capStartBytes;

    PageSender(GuestMemory memory, LegacyStreamWriter writer, StreamOut out, long bandwidthCap, Ticker ticker,
               Checkpoint checkpoint) {
        this.memory = memory;
        this.writer = writer;
        this.out = out;
        this.bandwidthCap = bandwidthCap;
        this.ticker = ticker;
        this.checkpoint = checkpoint;
        this.capStartNanos = ticker.nanoTime();
        this.capStartBytes = out.bytes();
    }

    /** Sends every page set in {@code bitmap}; returns the number of PFN entries sent. */
    long send(DirtyBitmap bitmap) throws IOException, HypervisorException, MigrationAbort {
        long sent = 0;
        long pfn = bitmap.nextSetBit(0);
        while (pfn >= 0) {
            int n = 0;
            while (pfn >= 0 && n < pfns.length) {
                pfns[n++] = pfn;
                pfn = pfn + 1 < bitmap.size() ? bitmap.nextSetBit(pfn + 1) : -1;
            }
            checkpoint.check();
            sendBatch(n);
            sent += n;
            throttleToCap();
        }
        return sent;
    }

    private void sendBatch(int n) throws IOException, HypervisorException {
        try (GuestMemory.PageMapping m = memory.mapForRead(pfns, 0, n)) {
            ByteBuffer[] pages = new ByteBuffer[n];
            int data = 0;
            int real = 0;
            for (int i = 0; i < n; i++) {
                PageType t = m.type(i);
                long pfn = m.pfn(i);
                entries[i] = t == PageType.XTAB ? PageType.XTAB.pfinfo() : t.pfinfo() | (int) pfn;
                if (t != PageType.XTAB) {
                    real++;
                }
                if (t.hasData()) {
                    pages[data++] = m.page(i).asByteBuffer();
                }
            }
            if (real == 0) {
                return; // a batch of only XTAB entries must not be written (legacy-stream.md §5.1)
            }
            ByteBuffer[] views = data == n ? pages : java.util.Arrays.copyOf(pages, data);
            writer.writePageBatch(PageBatch.of(java.util.Arrays.copyOf(entries, n), views));
            out.drain(); // the views point into the mapping: the sink must have them before it is closed
        }
    }

    private void throttleToCap() {
        if (bandwidthCap <= 0) {
            return;
        }
        long bytes = out.bytes() - capStartBytes;
        long due = capStartNanos + (long) (bytes * 1e9 / bandwidthCap);
        long wait = due - ticker.nanoTime();
        if (wait > 0) {
            LockSupport.parkNanos(wait);
        }
    }
}
