package dev.migrationd.protocol.legacy;

import java.util.Arrays;

/** {@code u32 nr_unmapped, ulong unmapped_pfn[nr_unmapped]}. */
public record PvUnmappedPfns(long[] pfns) implements LegacyItem {
    public PvUnmappedPfns {
        pfns = pfns.clone();
    }

    @Override
    public long[] pfns() {
        return pfns.clone();
    }

    public int count() {
        return pfns.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PvUnmappedPfns u && Arrays.equals(u.pfns, pfns);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(pfns);
    }

    @Override
    public String toString() {
        return "PvUnmappedPfns[" + pfns.length + "]";
    }

    @Override
    public String itemName() {
        return "PV_TAIL_UNMAPPED_PFNS";
    }
}
