package dev.migrationd.protocol.legacy;

import java.util.List;

/**
 * One TMEM pool: {@code u32 pool_id, u32 flags, u32 n_pages, u64 uuid[2]}, then up to n_pages page records,
 * optionally ended early by a lone all-ones oid ({@code earlyEnd}).
 */
public record TmemPool(int poolId, int flags, int nPages, long uuid0, long uuid1, List<TmemPage> pages,
                boolean earlyEnd) {
    public TmemPool {
        pages = List.copyOf(pages);
        if (poolId == LegacyFormat.TMEM_END) {
            throw new IllegalArgumentException("pool id 0xFFFFFFFF is the list terminator");
        }
        if (Integer.compareUnsigned(pages.size(), nPages) > 0) {
            throw new IllegalArgumentException("more pages than n_pages");
        }
        if (earlyEnd && Integer.compareUnsigned(pages.size(), nPages) >= 0) {
            throw new IllegalArgumentException("an early end needs fewer pages than n_pages");
        }
        if (!earlyEnd && pages.size() != nPages) {
            throw new IllegalArgumentException("n_pages=" + Integer.toUnsignedString(nPages) + " but "
                    + pages.size() + " pages and no early end");
        }
        if ((flags & LegacyFormat.TMEM_POOL_PERSIST) == 0 && nPages != 0) {
            throw new IllegalArgumentException("non-persistent pool with n_pages != 0");
        }
        int ps = pageSize(flags);
        for (TmemPage p : pages) {
            if (p.data().size() != ps) {
                throw new IllegalArgumentException("tmem page must be " + ps + " bytes");
            }
        }
    }

    /** {@code 1 << (((flags >> 4) & 0xF) + 12)}. */
    public static int pageSize(int flags) {
        return 1 << (((flags >>> 4) & 0xF) + 12);
    }
}
