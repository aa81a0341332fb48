package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.testing.RandomLegacyStream.Generated;
import dev.migrationd.protocol.testing.RandomLegacyStream;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The round-trip seeds really exercise every item, chunk id, signature and shape. */
class RandomStreamCoverageTest {

    @Test
    void seedsCoverEveryItemAndShape() {
        Set<Class<?>> kinds = new HashSet<>();
        Set<ChunkType> chunks = EnumSet.noneOf(ChunkType.class);
        Set<QemuSignature> sigs = EnumSet.noneOf(QemuSignature.class);
        Set<String> shapes = new HashSet<>();
        int multiCheckpoint = 0;
        int fullBatches = 0;
        for (long seed = 0; seed < 300; seed++) {
            Generated g = RandomLegacyStream.generate(seed);
            shapes.add(g.guestType() + "/" + g.width() + "/" + g.guestWidth());
            for (LegacyItem i : g.items()) {
                kinds.add(i.getClass());
                switch (i) {
                    case Marker m -> chunks.add(m.type());
                    case HvmParam p -> chunks.add(p.type());
                    case QemuRecord q -> sigs.add(q.signature());
                    case CheckpointEnd c -> multiCheckpoint += c.index() > 0 ? 1 : 0;
                    case PageBatch b -> fullBatches += b.count() > 500 ? 1 : 0;
                    default -> { }
                }
            }
        }
        assertEquals(19, kinds.size(), "item kinds seen: " + kinds);
        for (ChunkType t : ChunkType.values()) {
            if (t.isHvmParam() || t == ChunkType.ENABLE_VERIFY_MODE || t == ChunkType.LAST_CHECKPOINT
                    || t == ChunkType.ENABLE_COMPRESSION) {
                assertTrue(chunks.contains(t), "never generated: " + t);
            }
        }
        assertEquals(EnumSet.allOf(QemuSignature.class), sigs);
        for (GuestType g : GuestType.values()) {
            for (Width w : Width.values()) {
                if (g == GuestType.HVM) {
                    assertTrue(shapes.contains(g + "/" + w + "/null"), shapes.toString());
                } else {
                    for (Width gw : Width.values()) {
                        assertTrue(shapes.contains(g + "/" + w + "/" + gw), shapes.toString());
                    }
                }
            }
        }
        assertTrue(multiCheckpoint > 10, "checkpointed streams with several checkpoints: " + multiCheckpoint);
        assertTrue(fullBatches > 3, "large batches: " + fullBatches);
    }
}
