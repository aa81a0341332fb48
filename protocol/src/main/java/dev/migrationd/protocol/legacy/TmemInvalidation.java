package dev.migrationd.protocol.legacy;

/** One TMEM_EXTRA invalidation: {@code u32 pool_id, u64 oid[3], u32 index}. */
public record TmemInvalidation(int poolId, long oid0, long oid1, long oid2, int index) {
    public TmemInvalidation {
        if (poolId == LegacyFormat.TMEM_END) {
            throw new IllegalArgumentException("pool id 0xFFFFFFFF is the list terminator");
        }
    }
}
