package dev.migrationd.protocol.v2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.protocol.ByteSink;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Write → read for hundreds of random v2 streams, whole, split at random points, and byte by byte. */
class V2RoundTripTest {

    static LongStream seeds() {
        return LongStream.range(0, 300);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void roundTripWholeAndRandomSplits(long seed) throws Exception {
        V2Streams.Shape shape = V2Streams.randomShape(seed);
        List<V2Item> items = V2Streams.stream(shape, seed);
        byte[] bytes = V2Streams.write(items);

        assertEquals(items, V2Streams.read(bytes, shape.libxl()), "whole buffer, " + shape);

        Random r = new Random(seed * 31 + 7);
        for (int trial = 0; trial < 3; trial++) {
            int[] cuts = r.ints(1 + r.nextInt(40), 1, bytes.length).sorted().distinct().toArray();
            assertEquals(items, V2Streams.read(bytes, shape.libxl(), cuts), "cuts " + Arrays.toString(cuts));
        }
        // re-encoding what was read gives the same bytes
        assertArrayEquals(bytes, V2Streams.write(V2Streams.read(bytes, shape.libxl())));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("byteSeeds")
    void byteByByteYieldsTheSameItems(long seed) throws Exception {
        V2Streams.Shape shape = V2Streams.randomShape(seed);
        List<V2Item> items = V2Streams.stream(shape, seed);
        byte[] bytes = V2Streams.write(items);
        assertEquals(items, V2Streams.read(bytes, shape.libxl(), V2Streams.everyByte(bytes.length)));
    }

    /** Callback mode with pages streamed one by one yields the same content, whole, split, and byte by byte. */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("byteSeeds")
    void streamedPagesGiveTheSameItems(long seed) throws Exception {
        V2Streams.Shape shape = V2Streams.randomShape(seed);
        List<V2Item> items = V2Streams.stream(shape, seed);
        byte[] bytes = V2Streams.write(items);
        var limits = dev.migrationd.protocol.StreamLimits.DEFAULT;
        assertEquals(items, V2Streams.readStreamed(bytes, shape.libxl(), limits));
        int[] cuts = new Random(seed).ints(20, 1, bytes.length).sorted().distinct().toArray();
        assertEquals(items, V2Streams.readStreamed(bytes, shape.libxl(), limits, cuts));
        assertEquals(items, V2Streams.readStreamed(bytes, shape.libxl(), limits, V2Streams.everyByte(bytes.length)));
    }

    static LongStream byteSeeds() {
        return LongStream.range(1000, 1040);
    }

    /**
     * The writer never touches a buffer after handing it over: a sink that keeps every buffer and reads
     * them only at the end (as Netty does) sees the same bytes as one that copies at once.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("byteSeeds")
    void deferredSinkSeesTheSameBytes(long seed) throws Exception {
        V2Streams.Shape shape = V2Streams.randomShape(seed);
        List<V2Item> items = V2Streams.stream(shape, seed);
        List<ByteBuffer> kept = new ArrayList<>();
        java.util.Set<ByteBuffer> distinct = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        ByteSink deferred = b -> {
            kept.add(b);
            distinct.add(b);
        };
        if (shape.libxl()) {
            LibxlWriter w = new LibxlWriter(deferred);
            for (V2Item i : items) {
                w.write(i);
            }
        } else {
            LibxcWriter w = new LibxcWriter(deferred);
            for (V2Item i : items) {
                w.write((LibxcItem) i);
            }
        }
        assertEquals(kept.size(), distinct.size(), "a buffer object was handed to the sink twice");
        V2Streams.Collector c = new V2Streams.Collector();
        for (ByteBuffer b : kept) {
            c.write(b);
        }
        assertArrayEquals(V2Streams.write(items), c.bytes());
    }
}
