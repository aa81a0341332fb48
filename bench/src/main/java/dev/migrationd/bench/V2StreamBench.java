package dev.migrationd.bench;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.SignalRecord;
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
 * v2 PAGE_DATA throughput, one core, in memory off-heap; the same shape as {@link LegacyStreamBench} so the
 * two formats compare directly. One operation = 1 GiB of guest pages (256 records of 1024 pages).
 * {@code write}: the writer hands the sink views of guest memory, the sink copies them into an off-heap wire
 * buffer. {@code readViews}: the reader parses and the consumer touches each page view. {@code readIntoGuest}:
 * each page copied once into guest memory; {@code readIntoGuestStreamed}: the same with a page listener (pages
 * streamed, no gathering of straddling records). {@code feedBytes} 0 = whole stream at once, 65536 = 64 KiB pieces.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
@State(Scope.Benchmark)
public class V2StreamBench {
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
    long[][] entries;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        arena = Arena.ofShared();
        guest = arena.allocate(GIB, 4096);
        restored = arena.allocate(GIB, 4096);
        wire = arena.allocate(GIB + (4 << 20), 4096);
        for (long o = 0; o < GIB; o += 8) {
            guest.set(ValueLayout.JAVA_LONG_UNALIGNED, o, o * 0x9E3779B97F4A7C15L);
        }
        entries = new long[PAGES / BATCH][BATCH];
        for (int b = 0; b < entries.length; b++) {
            for (int i = 0; i < BATCH; i++) {
                entries[b][i] = PageData.entry(PageType.NOTAB, (long) b * BATCH + i);
            }
        }
        streamLength = writeOnce();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

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
        LibxcWriter w = new LibxcWriter(sink);
        w.writeImageHeader(ImageHeader.V3);
        w.writeDomainHeader(DomainHeader.converted(GuestType.HVM));
        w.write(SignalRecord.STATIC_DATA_END);
        for (int b = 0; b < entries.length; b++) {
            w.write(PageData.ofContiguous(entries[b], guest.asSlice((long) b * BATCH * 4096, (long) BATCH * 4096)));
        }
        w.write(SignalRecord.END);
        return sink.pos;
    }

    @Benchmark
    public long write() throws IOException {
        return writeOnce();
    }

    @Benchmark
    public void readViews(Blackhole bh) throws StreamException {
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        for (ByteBuffer in : pieces()) {
            for (LibxcItem item : r.feed(in)) {
                if (item instanceof PageData d) {
                    for (int i = 0; i < d.count(); i++) {
                        bh.consume(d.page(i).getLong(4088));
                    }
                }
            }
        }
        r.finish();
    }

    @Benchmark
    public void readIntoGuest() throws StreamException {
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        for (ByteBuffer in : pieces()) {
            for (LibxcItem item : r.feed(in)) {
                if (item instanceof PageData d) {
                    for (int i = 0; i < d.count(); i++) {
                        MemorySegment.copy(MemorySegment.ofBuffer(d.page(i)), 0, restored, d.pfn(i) * 4096, 4096);
                    }
                }
            }
        }
        r.finish();
    }

    /** As the receiver with a page listener: pages copied once from the fed buffer even when records straddle feeds. */
    @Benchmark
    public void readIntoGuestStreamed() throws StreamException {
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT, item -> { },
                (record, entry, page) -> MemorySegment.copy(MemorySegment.ofBuffer(page), 0, restored,
                        record.pfn(entry) * 4096, 4096));
        for (ByteBuffer in : pieces()) {
            r.feed(in);
        }
        r.finish();
    }

    private java.util.List<ByteBuffer> pieces() {
        ByteBuffer all = wire.asSlice(0, streamLength).asByteBuffer();
        if (feedBytes == 0) {
            return java.util.List.of(all);
        }
        java.util.List<ByteBuffer> out = new java.util.ArrayList<>();
        for (long o = 0; o < streamLength; o += feedBytes) {
            out.add(all.slice((int) o, (int) Math.min(feedBytes, streamLength - o)));
        }
        return out;
    }
}
