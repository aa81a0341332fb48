package dev.migrationd.protocol.legacy;

import java.util.List;

/** {@code TMEM} (−5), structurally (§6.5, Xen ≥ 4.1 layout with 24-byte oids). */
public record Tmem(int version, int maxPools, int clientFlags, int weight, int cap, List<TmemPool> pools)
        implements LegacyItem {
    public Tmem {
        pools = List.copyOf(pools);
    }

    @Override
    public String itemName() {
        return ChunkType.TMEM.xenName();
    }
}
