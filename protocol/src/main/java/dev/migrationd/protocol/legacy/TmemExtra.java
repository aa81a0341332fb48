package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
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

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.chunk(ChunkType.TMEM_EXTRA, invalidations.size() * LegacyFormat.TMEM_EXTRA_RECORD + 4);
        for (TmemInvalidation i : invalidations) {
            b.putInt(i.poolId()).putLong(i.oid0()).putLong(i.oid1()).putLong(i.oid2()).putInt(i.index());
        }
        Wire.send(sink, b.putInt(LegacyFormat.TMEM_END));
    }

    /** Reads the payload after the id: invalidation records up to the pool id 0xFFFFFFFF. */
    static void read(Framer in, Framer.Then<? super TmemExtra> then) throws StreamException {
        new Reading(in, then).nextRecord();
    }

    /** The invalidations read so far. */
    private static final class Reading {
        private final Framer.Then<? super TmemExtra> then;
        private final Tmem.Budget budget;
        private final List<TmemInvalidation> invalidations = new ArrayList<>();

        Reading(Framer in, Framer.Then<? super TmemExtra> then) {
            this.then = then;
            this.budget = new Tmem.Budget(in);
        }

        void nextRecord() throws StreamException {
            budget.field("TMEM_EXTRA_POOL_ID", 4, this::poolId);
        }

        private void poolId(ByteBuffer f) throws StreamException {
            int id = f.getInt();
            if (id == LegacyFormat.TMEM_END) {
                then.accept(new TmemExtra(invalidations));
                return;
            }
            budget.field("TMEM_EXTRA_REST", LegacyFormat.TMEM_EXTRA_RECORD - 4, r -> {
                invalidations.add(new TmemInvalidation(id, r.getLong(), r.getLong(), r.getLong(), r.getInt()));
                nextRecord();
            });
        }
    }
}
