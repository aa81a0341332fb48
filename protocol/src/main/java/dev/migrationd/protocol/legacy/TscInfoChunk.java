package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.x86.TscInfo;
import java.util.Objects;

/** {@code TSC_INFO} (−7): {@code u32 tsc_mode, u64 nsec, u32 khz, u32 incarnation} (20 bytes, nsec before khz). */
public record TscInfoChunk(TscInfo tsc) implements LegacyItem {
    public TscInfoChunk {
        Objects.requireNonNull(tsc, "tsc");
    }

    @Override
    public String itemName() {
        return ChunkType.TSC_INFO.xenName();
    }
}
