package dev.migrationd.bench;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Legacy stream page-batch throughput, one core, all in memory off-heap. One operation = 1 GiB of guest pages
 * (256 batches of 1024 pages) written or read; GiB/s = 1 / (seconds per op).
 *
 * <ul>
 *   <li>{@code write}: the writer hands the sink views of guest memory; the sink copies them into an off-heap
 *       "wire" buffer (the one copy a socket write makes).</li>
 *   <li>{@code readViews}: the reader parses the stream and the consumer touches each page view (no copy).</li>
 *   <li>{@code readIntoGuest}: each page of a whole-batch item is copied from its view into guest memory.</li>
 *   <li>{@code readIntoGuestStreamed}: as the daemon's receiver: a PageListener gets each page as soon as it is
 *       complete and copies it into guest memory (one copy even when batches straddle feeds).</li>
 * </ul>
 * {@code feedBytes} = 0 feeds the whole stream at once (every page a view of the input); 65536 feeds 64 KiB
 * pieces like network buffers (batches straddle feeds and go through the reader's accumulation buffer).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
@State(Scope.Benchmark)
public class LegacyStreamBench {
    static final long GIB = 1L << 30;
    static final int PAGES = (int) (GIB / 4096);
    static final int BATCH = 1024;

    @Param({"0", "65536"})
    public int feedBytes;

    Arena arena;
    MemorySegment guest;
    MemorySegment wire;
    MemorySegment restored;
    long streamLength;
    int[][] entries;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        arena = Arena.ofShared();
        guest = arena.allocate(GIB, 4096);
        restored = arena.allocate(GIB, 4096);
        wire = arena.allocate(GIB + (8 << 20), 4096); // + PFN arrays (8 KiB per batch) and header
        for (long o = 0; o < GIB; o += 8) {
            guest.set(ValueLayout.JAVA_LONG_UNALIGNED, o, o * 0x9E3779B97F4A7C15L);
        }
        entries = new int[PAGES / BATCH][BATCH];
        for (int b = 0; b < entries.length; b++) {
            for (int i = 0; i < BATCH; i++) {
                entries[b][i] = b * BATCH + i; // NOTAB, pfn
            }
        }
        streamLength = writeOnce();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** Copies what the writer hands over into the wire buffer. */
    final class WireSink implements ByteSink {
        long pos;

        @Override
        public void write(ByteBuffer bytes) {
            int n = bytes.remaining();
            MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, wire, pos, n);
            pos += n;
        }
    }

    long writeOnce() throws IOException {
        WireSink sink = new WireSink();
        LegacyStreamWriter w = new LegacyStreamWriter(sink, Width.W64, GuestType.HVM);
        w.write(new HvmHeader(PAGES));
        for (int[] e : entries) {
            w.write(PageBatch.ofGuestMemory(e, guest));
        }
        return sink.pos;
    }

    /** Baseline: one plain 1 GiB memcpy (guest → restored), the floor for any path that copies once. */
    @Benchmark
    public void baselineMemcpy() {
        MemorySegment.copy(guest, 0, restored, 0, GIB);
    }

    @Benchmark
    public long write() throws IOException {
        return writeOnce();
    }

    @Benchmark
    public void readViews(Blackhole bh) throws StreamException {
        read(item -> {
            if (item instanceof PageBatch b) {
                for (int i = 0; i < b.count(); i++) {
                    bh.consume(b.page(i).getLong(4088));
                }
            }
        });
    }

    @Benchmark
    public void readIntoGuest() throws StreamException {
        read(item -> {
            if (item instanceof PageBatch b) {
                for (int i = 0; i < b.count(); i++) {
                    b.copyPage(i, restored, b.pfn(i) * 4096);
                }
            }
        });
    }

    @Benchmark
    public void readIntoGuestStreamed() throws StreamException {
        read(item -> { }, (batch, entry, page) ->
                MemorySegment.copy(MemorySegment.ofBuffer(page), 0, restored, batch.pfn(entry) * 4096, 4096));
    }

    private void read(java.util.function.Consumer<LegacyItem> consumer) throws StreamException {
        read(consumer, null);
    }

    private void read(java.util.function.Consumer<LegacyItem> consumer, LegacyStreamReader.PageListener pages)
            throws StreamException {
        LegacyStreamReader r = new LegacyStreamReader(LegacyStreamReader.Options.of(Width.W64, GuestType.HVM), consumer,
                pages);
        ByteBuffer all = wire.asSlice(0, streamLength).asByteBuffer();
        if (feedBytes == 0) {
            r.feed(all);
        } else {
            for (long o = 0; o < streamLength; o += feedBytes) {
                r.feed(all.slice((int) o, (int) Math.min(feedBytes, streamLength - o)));
            }
        }
        if (r.isComplete()) {
            throw new IllegalStateException("a stream without tail cannot be complete");
        }
    }
}
