package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmParamIndex;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code u64 ioreq_pfn, u64 bufioreq_pfn, u64 store_pfn}: three HVM params, carried in the tail. */
public record HvmMagicPfns(long ioreqPfn, long bufioreqPfn, long storePfn) implements LegacyItem {

    static final String ITEM = "HVM_TAIL_MAGIC_PFNS";

    /** The {@code HVM_PARAM_*} indexes of the three PFNs, in wire order. */
    public static final List<Integer> HVM_PARAMS = List.of(HvmParamIndex.HVM_PARAM_IOREQ_PFN,
            HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, HvmParamIndex.HVM_PARAM_STORE_PFN);

    /** The PFNs from the HVM params that hold them ({@code HVM_PARAM_*} index → value; 0 where absent). */
    public static HvmMagicPfns fromHvmParams(Map<Integer, Long> params) {
        return new HvmMagicPfns(params.getOrDefault(HvmParamIndex.HVM_PARAM_IOREQ_PFN, 0L),
                params.getOrDefault(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, 0L),
                params.getOrDefault(HvmParamIndex.HVM_PARAM_STORE_PFN, 0L));
    }

    /** The PFNs as HVM params ({@code HVM_PARAM_*} index → value), in wire order. */
    public Map<Integer, Long> hvmParams() {
        long[] pfns = {ioreqPfn, bufioreqPfn, storePfn};
        Map<Integer, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < pfns.length; i++) {
            m.put(HVM_PARAMS.get(i), pfns[i]);
        }
        return m;
    }
    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        Wire.send(sink, Wire.alloc(LegacyFormat.HVM_MAGIC_PFNS_SIZE).putLong(ioreqPfn).putLong(bufioreqPfn)
                .putLong(storePfn));
    }

    static void read(Framer in, Framer.Then<? super HvmMagicPfns> then) throws StreamException {
        in.field("HVM_MAGIC", LegacyFormat.HVM_MAGIC_PFNS_SIZE,
                f -> then.accept(new HvmMagicPfns(f.getLong(), f.getLong(), f.getLong())));
    }
}
