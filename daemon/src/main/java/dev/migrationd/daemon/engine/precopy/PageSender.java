package dev.migrationd.daemon.engine.precopy;

import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.stream.SourceStream;
import dev.migrationd.daemon.engine.stream.StreamOut;
import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends the pages a bitmap names, in batches of up to {@link StreamLimits#MAX_BATCH_SIZE}: maps them,
 * hands the mapping's page views to the source stream (no copy), waits for the sink to take them,
 * unmaps. Applies the bandwidth cap and calls the cancellation checkpoint between batches.
 *
 * <p>Confined to the migration's thread.
 */
public final class PageSender {

    /** Called between batches; throws to stop (cancellation). */
    @FunctionalInterface
    public interface Checkpoint {
        void check() throws MigrationAbort;
    }

    private final GuestMemory memory;
    private final SourceStream stream;
    private final StreamOut out;
    private final long bandwidthCap;
    private final Ticker ticker;
    private final Checkpoint checkpoint;
    private final long[] pfns = new long[StreamLimits.MAX_BATCH_SIZE];
    private final PageType[] types = new PageType[StreamLimits.MAX_BATCH_SIZE];
    private long paidUntil;
    private long capBytes;

    public PageSender(GuestMemory memory, SourceStream stream, StreamOut out, long bandwidthCap, Ticker ticker,
               Checkpoint checkpoint) {
        this.memory = memory;
        this.stream = stream;
        this.out = out;
        this.bandwidthCap = bandwidthCap;
        this.ticker = ticker;
        this.checkpoint = checkpoint;
        this.paidUntil = ticker.nanoTime();
        this.capBytes = out.wireBytes();
    }

    /**
     * Batches whose mappings stay open while their bytes are on the way: the next batch is mapped and
     * handed over while the previous one is still being written (the channel's write-buffer watermark
     * still bounds the bytes in flight).
     */
    static final int BATCHES_IN_FLIGHT = 3;

    private record InFlight(GuestMemory.PageMapping mapping, PeerConnection.WriteMark written) {
    }

    private final java.util.ArrayDeque<InFlight> inFlight = new java.util.ArrayDeque<>();

    /** A zero page, compared against (never written). */
    private static final MemorySegment ZERO_PAGE = MemorySegment.ofArray(new byte[StreamLimits.PAGE_SIZE]);

    /** Whether this pass sends all-zero ordinary pages as XALLOC entries (see {@link #sendFirstRound}). */
    private boolean zeroPagesAllocOnly;

    /**
     * Sends the first round into a freshly built destination domain whose allocations read as zero: as
     * {@link #send}, but an ordinary (NOTAB) page that is all zero goes as an XALLOC entry, allocate without
     * data (QEMU likewise sends zero pages as a flag). Only toward a destination that promised it in its
     * Accept: Xen hands a restore the pages other domains freed, unscrubbed, and libxc's restore writes
     * nothing into an XALLOC page, so there a zero page of the guest (a zeroed kernel structure) would come
     * up holding an earlier owner's bytes. The check stops at the first non-zero byte, so a page of random
     * contents costs a few bytes of reading and a zero page one read at memory bandwidth instead of a copy
     * to the socket and one into guest memory. Later rounds send data: a page zeroed since round 0 must
     * overwrite what was sent. Page-table pages (PV) always carry their data.
     */
    public long sendFirstRound(DirtyBitmap bitmap) throws IOException, HypervisorException, MigrationAbort {
        zeroPagesAllocOnly = true;
        try {
            return send(bitmap);
        } finally {
            zeroPagesAllocOnly = false;
        }
    }

    /** Sends every page set in {@code bitmap}; returns the number of PFN entries sent. */
    public long send(DirtyBitmap bitmap) throws IOException, HypervisorException, MigrationAbort {
        long sent = 0;
        boolean ok = false;
        try {
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
                while (inFlight.size() > BATCHES_IN_FLIGHT - 1) {
                    retire(inFlight.removeFirst(), true);
                }
                throttleToCap();
            }
            ok = true;
        } finally {
            // every mapping is closed only once the bytes viewing it are written (or their write failed)
            IOException first = null;
            while (!inFlight.isEmpty()) {
                try {
                    retire(inFlight.removeFirst(), ok && first == null);
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
            if (first != null) {
                throw first;
            }
        }
        return sent;
    }

    private static void retire(InFlight f, boolean check) throws IOException, HypervisorException {
        try {
            f.written().await();
        } catch (IOException e) {
            // woken (a cancel) or failed: the transport may still be reading the views, so the mapping is
            // closed only once it is done with them
            f.written().settle();
            f.mapping().close();
            if (check) {
                throw e;
            }
            return;
        }
        f.mapping().close();
    }

    private void sendBatch(int n) throws IOException, HypervisorException {
        GuestMemory.PageMapping m = memory.mapForRead(pfns, 0, n);
        boolean handedOver = false;
        try {
            int data = 0;
            for (int i = 0; i < n; i++) {
                PageType t = m.type(i);
                if (zeroPagesAllocOnly && t == PageType.NOTAB && isZero(m.page(i))) {
                    t = PageType.XALLOC;
                }
                types[i] = t;
                pfns[i] = m.pfn(i);
                if (t.hasData()) {
                    data++;
                }
            }
            java.util.Optional<MemorySegment> run = data == n && n > 1 ? m.run(0, n) : java.util.Optional.empty();
            if (run.isPresent()) {
                // consecutive pages (round 0, sequential writers): one buffer for the socket, not n
                stream.writeContiguousPages(pfns, types, n, run.get());
            } else {
                ByteBuffer[] views = new ByteBuffer[data];
                for (int i = 0, d = 0; i < n; i++) {
                    if (types[i].hasData()) {
                        views[d++] = m.page(i).asByteBuffer();
                    }
                }
                if (!stream.writePages(pfns, types, n, views)) {
                    return; // nothing written (the format skips such a batch)
                }
            }
            // the views point into the mapping: it stays open until the bytes are written
            inFlight.addLast(new InFlight(m, out.mark()));
            handedOver = true;
        } finally {
            if (!handedOver) {
                // views already handed to the sink must be written (or failed) before the unmap
                PeerConnection.WriteMark w = null;
                try {
                    w = out.mark();
                    w.await();
                } catch (IOException e) {
                    if (w != null) {
                        w.settle(); // the failure that got us here is the one reported
                    }
                }
                m.close();
            }
        }
    }

    private static boolean isZero(MemorySegment page) {
        return MemorySegment.mismatch(page, 0, StreamLimits.PAGE_SIZE, ZERO_PAGE, 0, StreamLimits.PAGE_SIZE) < 0;
    }

    /**
     * The bandwidth cap: each batch's bytes "cost" bytes ÷ cap of time; the sender sleeps until the
     * time paid for catches up. Idle time is not credited (no catch-up bursts after a slow stretch). The
     * bytes are those on the wire (after compression): the cap protects the link.
     */
    private void throttleToCap() {
        if (bandwidthCap <= 0) {
            return;
        }
        long wire = out.wireBytes();
        long bytes = wire - capBytes;
        capBytes = wire;
        long now = ticker.nanoTime();
        paidUntil = Math.max(paidUntil, now) + (long) (bytes * 1e9 / bandwidthCap);
        // parkNanos may return early (spuriously, or on an unpark meant for something else): a short sleep
        // would make the round look faster than the cap and the policy switch over too early
        for (long wait = paidUntil - now; wait > 0; wait = paidUntil - ticker.nanoTime()) {
            LockSupport.parkNanos(wait);
        }
    }
}
