package dev.migrationd.protocol.legacy;

import java.util.List;

/** {@code TMEM_EXTRA} (−6): invalidations terminated by pool id 0xFFFFFFFF. */
public record TmemExtra(List<TmemInvalidation> invalidations) implements LegacyItem {
    public TmemExtra {
        invalidations = List.copyOf(invalidations);
    }

    @Override
    public String itemName() {
        return ChunkType.TMEM_EXTRA.xenName();
    }
}
