package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.testing.RandomLegacyStream.Generated;
import dev.migrationd.protocol.testing.RandomLegacyStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A receiver built from the reader (page by page, PageListener) and the compression decoder restores every page
 * of multi-checkpoint Remus streams, compressed (Format B) checkpoints decoded onto the previous content.
 */
class RemusCompressionEndToEndTest {

    /** The decoder of the current Format B checkpoint, created by its first batch or compressed chunk. */
    private static void startFormatB(CheckpointCompression.Decoder[] decoder, List<Long> dataPfns,
                                     Map<Long, byte[]> memory) {
        if (decoder[0] == null) {
            dataPfns.clear();
            decoder[0] = new CheckpointCompression.Decoder(k -> ByteBuffer.wrap(
                    memory.computeIfAbsent(dataPfns.get((int) k), p -> new byte[4096])));
        }
    }

    @Test
    void receiverMemoryMatchesSenderForEveryRandomStream() throws StreamException {
        int compressedStreams = 0;
        for (long seed = 0; seed < 300; seed++) {
            Generated g = RandomLegacyStream.generate(seed);
            Map<Long, byte[]> memory = new HashMap<>();
            List<Long> dataPfns = new ArrayList<>();
            CheckpointCompression.Decoder[] decoder = new CheckpointCompression.Decoder[1];
            boolean[] sawCompressed = new boolean[1];
            LegacyStreamReader r = new LegacyStreamReader(g.options(), item -> {
                switch (item) {
                    case PageBatch b when b.pfnsOnly() -> {
                        startFormatB(decoder, dataPfns, memory);
                        for (int i = 0; i < b.count(); i++) {
                            if (b.hasData(i)) {
                                dataPfns.add(b.pfn(i));
                            }
                        }
                    }
                    case CompressedData c -> {
                        sawCompressed[0] = true;
                        startFormatB(decoder, dataPfns, memory);
                        try {
                            decoder[0].feed(c.data().asByteBuffer(), dataPfns.size());
                        } catch (RecordException e) {
                            throw new AssertionError(e);
                        }
                    }
                    case EndOfBody e -> {
                        if (decoder[0] != null) {
                            assertEquals(dataPfns.size(), decoder[0].pagesDecoded());
                            decoder[0] = null;
                        }
                    }
                    default -> { }
                }
            }, (batch, entry, page) -> {
                byte[] p = new byte[4096];
                page.duplicate().get(p);
                memory.put(batch.pfn(entry), p);
            });
            r.feed(ByteBuffer.wrap(g.bytes()));
            r.finish();
            compressedStreams += sawCompressed[0] ? 1 : 0;
            assertEquals(g.finalMemory().keySet(), memory.keySet(), g.toString());
            for (Map.Entry<Long, byte[]> e : g.finalMemory().entrySet()) {
                assertArrayEquals(e.getValue(), memory.get(e.getKey()), g + " pfn " + e.getKey());
            }
        }
        assertTrue(compressedStreams >= 5, "streams with compressed checkpoints: " + compressedStreams);
    }
}
