package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
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

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        long size = 4L + LegacyFormat.TMEM_HEADER_PAYLOAD + 4;
        for (TmemPool p : pools) {
            size += 4 + LegacyFormat.TMEM_POOL_HEADER + (p.earlyEnd() ? LegacyFormat.TMEM_OID_SIZE : 0);
            for (TmemPage pg : p.pages()) {
                size += LegacyFormat.TMEM_OID_SIZE + 4 + pg.data().size();
            }
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("TMEM chunk too large");
        }
        ByteBuffer b = Wire.chunk(ChunkType.TMEM, (int) size - 4).putInt(version).putInt(maxPools)
                .putInt(LegacyFormat.TMEM_END).putInt(clientFlags).putInt(weight).putInt(cap).putInt(LegacyFormat.TMEM_END);
        for (TmemPool p : pools) {
            b.putInt(p.poolId()).putInt(p.flags()).putInt(p.nPages()).putLong(p.uuid0()).putLong(p.uuid1());
            for (TmemPage pg : p.pages()) {
                if (pg.oid0() == -1 && pg.oid1() == -1 && pg.oid2() == -1) {
                    throw new IllegalArgumentException("an all-ones oid ends a pool");
                }
                b.putLong(pg.oid0()).putLong(pg.oid1()).putLong(pg.oid2()).putInt(pg.index());
                pg.data().copyTo(b);
            }
            if (p.earlyEnd()) {
                b.putLong(-1).putLong(-1).putLong(-1);
            }
        }
        Wire.send(sink, b.putInt(LegacyFormat.TMEM_END));
    }

    /** Reads the payload after the id: the client header, then pools and their pages up to the 0xFFFFFFFF end. */
    static void read(Framer in, Framer.Then<? super Tmem> then) throws StreamException {
        new Reading(in, then).start();
    }

    /**
     * Asks for the fields of a TMEM or TMEM_EXTRA chunk, counting their bytes against
     * {@code StreamLimits.maxTmemBytes}: these chunks carry no length, only their content ends them.
     */
    static final class Budget {
        private final Framer in;
        private long bytes;

        Budget(Framer in) {
            this.in = in;
        }

        void field(String what, long n, Framer.Field then) throws StreamException {
            bytes += n;
            if (bytes > in.limits().maxTmemBytes()) {
                throw in.fatal("chunk exceeds " + in.limits().maxTmemBytes() + " bytes (StreamLimits.maxTmemBytes)");
            }
            in.field(what, n, then);
        }
    }

    /** The state of one TMEM chunk being read: the header, the pools so far, the pool being read. */
    private static final class Reading {
        private final Framer in;
        private final Framer.Then<? super Tmem> then;
        private final Budget budget;
        private final List<TmemPool> pools = new ArrayList<>();
        private int[] header;
        private int poolId;
        private int flags;
        private int nPages;
        private long uuid0;
        private long uuid1;
        private long pagesLeft;
        private List<TmemPage> pages;

        Reading(Framer in, Framer.Then<? super Tmem> then) {
            this.in = in;
            this.then = then;
            this.budget = new Budget(in);
        }

        void start() throws StreamException {
            budget.field("TMEM_HEADER", LegacyFormat.TMEM_HEADER_PAYLOAD, this::header);
        }

        private void header(ByteBuffer f) throws StreamException {
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) {
                h[i] = f.getInt();
            }
            if (h[2] != LegacyFormat.TMEM_END || h[6] != LegacyFormat.TMEM_END) {
                throw in.record("TMEM header separators must be 0xffffffff");
            }
            header = h;
            nextPool();
        }

        private void nextPool() throws StreamException {
            budget.field("TMEM_POOL_ID", 4, this::poolId);
        }

        private void poolId(ByteBuffer f) throws StreamException {
            int id = f.getInt();
            if (id == LegacyFormat.TMEM_END) {
                then.accept(new Tmem(header[0], header[1], header[3], header[4], header[5], pools));
            } else {
                poolId = id;
                budget.field("TMEM_POOL_HEADER", LegacyFormat.TMEM_POOL_HEADER, this::poolHeader);
            }
        }

        private void poolHeader(ByteBuffer f) throws StreamException {
            flags = f.getInt();
            nPages = f.getInt();
            uuid0 = f.getLong();
            uuid1 = f.getLong();
            if ((flags & LegacyFormat.TMEM_POOL_PERSIST) == 0 && nPages != 0) {
                throw in.record("non-persistent tmem pool " + poolId + " with n_pages " + Integer.toUnsignedString(nPages));
            }
            if (TmemPool.pageSize(flags) > in.limits().maxTmemBytes()) {
                throw in.record("tmem page size " + TmemPool.pageSize(flags) + " exceeds maxTmemBytes");
            }
            pagesLeft = nPages & 0xFFFF_FFFFL;
            pages = new ArrayList<>();
            nextPage();
        }

        private void nextPage() throws StreamException {
            if (pagesLeft == 0) {
                endPool(false);
            } else {
                budget.field("TMEM_OID", LegacyFormat.TMEM_OID_SIZE, this::oid);
            }
        }

        private void endPool(boolean early) throws StreamException {
            pools.add(new TmemPool(poolId, flags, nPages, uuid0, uuid1, pages, early));
            pages = null;
            nextPool();
        }

        private void oid(ByteBuffer f) throws StreamException {
            long a = f.getLong();
            long b = f.getLong();
            long c = f.getLong();
            if (a == -1 && b == -1 && c == -1) {
                endPool(true);
                return;
            }
            budget.field("TMEM_INDEX", 4, i -> {
                int index = i.getInt();
                budget.field("TMEM_DATA", TmemPool.pageSize(flags), d -> {
                    pages.add(new TmemPage(a, b, c, index, Bytes.of(d)));
                    pagesLeft--;
                    nextPage();
                });
            });
        }
    }
}
