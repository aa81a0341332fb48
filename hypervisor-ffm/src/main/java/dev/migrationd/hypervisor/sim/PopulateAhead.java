package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Populates a new (restore) domain's memory ahead of the stream that fills it, on a thread of its own
 * ({@code sim-populate}): a real host's kernel or Xen allocates a new guest's memory (populate-physmap)
 * while the pages arrive, not in the thread that reads the socket. It walks the memory in
 * {@link #CHUNK_BYTES} steps with {@code MADV_POPULATE_WRITE}, always starting past the highest page the
 * writer has reached ({@link #written(long)}): where the writer has overtaken it, populating behind it
 * would be wasted work. The writer never waits for it; a page it reaches first it faults in itself.
 *
 * <p>Threads: {@link #start()} and {@link #stop()} are called by the domain's owner under its state lock;
 * {@link #written(long)} by the one thread that writes the restore's pages; the walk runs on its own
 * thread and touches the mapping only between start and the return of {@link #stop()}, which waits for
 * it (at most one chunk), so the mapping can be unmapped right after.
 */
final class PopulateAhead {

    private static final Logger LOG = LoggerFactory.getLogger(PopulateAhead.class);

    /**
     * Bytes per madvise call: small enough that {@link #stop()} waits at most a few ms and that the walk
     * follows the writer closely, large enough that the call overhead is nothing (measured: 8 MiB).
     */
    static final long CHUNK_BYTES = 8L << 20;
    /** How far past the writer's page a restarted walk begins: pages the writer is about to reach anyway. */
    static final long LEAD_BYTES = 2L << 20;

    private static final long PAGE = StreamLimits.PAGE_SIZE;

    private final String domain;
    private final MemorySegment memory;
    /** Highest byte offset + 1 the writer has written; released by the writer, read by the walk. */
    private final AtomicLong writerEnd = new AtomicLong();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile boolean stopping;
    private Thread thread;

    PopulateAhead(String domain, MemorySegment memory) {
        this.domain = domain;
        this.memory = memory;
    }

    void start() {
        thread = Thread.ofPlatform().name("sim-populate").daemon().unstarted(this::walk);
        thread.start();
    }

    /** The writer has written the page at {@code byteOffset}: a plain ordered store, no fence. */
    void written(long byteOffset) {
        if (byteOffset >= writerEnd.getPlain()) {
            writerEnd.lazySet(byteOffset + PAGE);
        }
    }

    private void walk() {
        long t0 = System.nanoTime();
        long size = memory.byteSize();
        long populated = 0;
        long cursor = 0;
        try {
            while (!stopping && cursor < size) {
                long writer = writerEnd.get();
                if (writer > cursor) {
                    cursor = Math.min(size, writer + LEAD_BYTES) & ~(PAGE - 1);
                    if (cursor >= size) {
                        break;
                    }
                }
                long len = Math.min(CHUNK_BYTES, size - cursor);
                Libc.madvise(memory.asSlice(cursor, len), len, Libc.MADV_POPULATE_WRITE);
                populated += len;
                cursor += len;
            }
            LOG.debug("event=populate_ahead_done domain={} populated_mib={} ms={} stopped={}",
                    domain, populated >> 20, (System.nanoTime() - t0) / 1_000_000, stopping);
        } catch (NativeCallException e) {
            // a kernel without MADV_POPULATE_WRITE (before 5.14) or a full tmpfs: the writer faults the
            // pages in itself, and a lack of room is reported by its write
            LOG.info("event=populate_ahead_stopped domain={} populated_mib={} reason=\"{}\"", domain, populated >> 20, e.problem());
        } catch (IllegalStateException e) {
            LOG.warn("event=populate_ahead_stopped domain={} reason=\"{}\"", domain, e.getMessage());
        } finally {
            done.countDown();
        }
    }

    /** Asks the walk to stop after its current chunk, without waiting (the restore is complete). */
    void requestStop() {
        stopping = true;
    }

    /** Stops the walk and waits until it no longer touches the mapping. */
    void stop() {
        stopping = true;
        if (thread == null) {
            return;
        }
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
