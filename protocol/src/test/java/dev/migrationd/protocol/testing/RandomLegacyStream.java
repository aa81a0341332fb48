package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.CheckpointCompression;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.CompressedData;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.Tmem;
import dev.migrationd.protocol.legacy.TmemExtra;
import dev.migrationd.protocol.legacy.TmemInvalidation;
import dev.migrationd.protocol.legacy.TmemPage;
import dev.migrationd.protocol.legacy.TmemPool;
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.ToolstackPhysmap;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.x86.TscInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random but valid legacy streams (every writer rule obeyed), for round trips, fuzz seeds and Xen's tools.
 * With {@code xenCompatible} the stream stays within what {@code convert-legacy-stream} + {@code verify-stream-v2}
 * accept (§15): one checkpoint, no TMEM, no compression, {@code DeviceModelRecord0002}, TOOLSTACK with count 0.
 */
public final class RandomLegacyStream {

    /**
     * A generated stream: how to write/read it, its items (ending with CheckpointEnd items), and the content of
     * every page sent as the receiver must have it at the end (the last copy of each PFN, compressed ones decoded).
     */
    public record Generated(long seed, Width width, GuestType guestType, Width guestWidth, boolean checkpointed,
                            List<LegacyItem> items, Map<Long, byte[]> finalMemory) {
        public byte[] bytes() {
            return LegacyFixtures.write(width, guestType, checkpointed, items);
        }

        public LegacyStreamReader.Options options() {
            return LegacyStreamReader.Options.of(width, guestType).withCheckpointed(checkpointed);
        }

        @Override
        public String toString() {
            return "seed " + seed + ": " + guestType + " W" + width.bits() + (guestWidth != null ? " GW"
                    + guestWidth.bits() : "") + (checkpointed ? " checkpointed" : "") + ", " + items.size() + " items";
        }
    }

    private final SplittableRandom rnd;
    private final boolean xenCompatible;
    private final Map<Long, byte[]> memory = new HashMap<>();
    private final CheckpointCompression.Encoder encoder = new CheckpointCompression.Encoder(64);

    private RandomLegacyStream(long seed, boolean xenCompatible) {
        this.rnd = new SplittableRandom(seed);
        this.xenCompatible = xenCompatible;
    }

    public static Generated generate(long seed) {
        return new RandomLegacyStream(seed, false).build(seed, null, null, null);
    }

    /** A stream for the given shape that Xen's converter and verifier accept. */
    public static Generated xenCompatible(long seed, GuestType g, Width w, Width gw) {
        return new RandomLegacyStream(seed, true).build(seed, g, w, gw);
    }

    private Generated build(long seed, GuestType g0, Width w0, Width gw0) {
        GuestType g = g0 != null ? g0 : (rnd.nextBoolean() ? GuestType.PV : GuestType.HVM);
        Width w = w0 != null ? w0 : (rnd.nextBoolean() ? Width.W64 : Width.W32);
        Width gw = g == GuestType.HVM ? null : gw0 != null ? gw0 : (rnd.nextBoolean() ? Width.W64 : Width.W32);
        boolean checkpointed = !xenCompatible && rnd.nextInt(4) == 0;
        int checkpoints = checkpointed ? 1 + rnd.nextInt(3) : 1;
        boolean compress = checkpointed && checkpoints > 1 && rnd.nextBoolean();
        boolean tmem = !xenCompatible && rnd.nextInt(6) == 0;
        boolean endsWithLast = !checkpointed || rnd.nextBoolean();
        long p2m = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 70_000 : 3000);

        List<LegacyItem> items = new ArrayList<>();
        PvHeader pv = null;
        if (g == GuestType.PV) {
            int xsaveLen = rnd.nextBoolean() ? 0 : 16 + 16 + 512 + 64 + 8 * rnd.nextInt(40);
            long frames = LegacyFormat.p2mFrameCount(p2m, gw);
            long[] f = new long[(int) frames];
            for (int i = 0; i < f.length; i++) {
                f[i] = rnd.nextLong(p2m);
            }
            Bytes ctx = xenCompatible ? LegacyFixtures.pvVcpuContext(gw) : randomBytes(LegacyFormat.vcpuContextSize(gw));
            pv = new PvHeader(p2m, ctx, xenCompatible || rnd.nextInt(5) != 0, xsaveLen, f);
            items.add(pv);
        } else {
            items.add(new HvmHeader(p2m));
        }
        boolean formatB = false;
        for (int cp = 0; cp < checkpoints; cp++) {
            boolean last = cp == checkpoints - 1;
            boolean live = rnd.nextBoolean();
            if (cp == 0 && tmem) {
                items.add(randomTmem());
            }
            boolean tsc = cp == 0 || rnd.nextInt(3) == 0;
            if (tsc && !live) {
                items.add(randomTsc());
            }
            List<PageBatch> batches = new ArrayList<>();
            int nBatches = xenCompatible ? 2 + rnd.nextInt(3) : rnd.nextInt(4);
            for (int i = 0; i < nBatches; i++) {
                batches.add(randomBatch(g, p2m, formatB));
            }
            int mid = nBatches == 0 ? 0 : rnd.nextInt(nBatches + 1);
            items.addAll(batches.subList(0, mid));
            if (live) {
                if (cp == 0 && tmem) {
                    items.add(randomTmemExtra());
                }
                if (tsc) {
                    items.add(randomTsc());
                }
            }
            items.addAll(batches.subList(mid, nBatches));
            if (nBatches > 0 && rnd.nextInt(6) == 0) {
                items.add(new Marker(ChunkType.ENABLE_VERIFY_MODE));
                PageBatch again = randomBatch(g, p2m, formatB);
                batches.add(again);
                items.add(again);
            }
            if (formatB) {
                items.addAll(compressed(batches));
            }
            VcpuInfo vi = randomVcpuInfo(g);
            items.add(vi);
            if (g == GuestType.HVM) {
                items.addAll(randomHvmParams());
            }
            if (xenCompatible || rnd.nextInt(4) != 0) {
                items.add(new Toolstack(xenCompatible || g == GuestType.PV || rnd.nextBoolean()
                        ? ToolstackPhysmap.encode(w, List.of())
                        : ToolstackPhysmap.encode(w, List.of(new ToolstackPhysmap.Entry(0xf0000000L, 0xf0000000L,
                                0x800000, "vga.vram")))));
            }
            boolean writeLast = checkpointed ? last && endsWithLast : xenCompatible || rnd.nextInt(4) != 0;
            if (writeLast) {
                items.add(new Marker(ChunkType.LAST_CHECKPOINT));
            }
            if (cp == 0 && compress) {
                items.add(new Marker(ChunkType.ENABLE_COMPRESSION));
            }
            items.add(new EndOfBody());
            boolean qemuToEof = false;
            if (g == GuestType.PV) {
                int nUnmapped = rnd.nextInt(4);
                long[] un = rnd.longs(nUnmapped, 0, p2m).toArray();
                items.add(new PvUnmappedPfns(un));
                for (int v : vi.onlineVcpus()) {
                    Bytes ctx = xenCompatible ? LegacyFixtures.pvVcpuContext(gw) : randomBytes(pv.vcpuContext().size());
                    Bytes ext = pv.extv() ? randomBytes(128) : null;
                    XsaveRecord xs = pv.xsaveLen() != 0
                            ? new XsaveRecord(7, randomBytes(pv.xsaveLen() - LegacyFormat.XSAVE_RECORD_HEADER).toArray()) : null;
                    items.add(new PvVcpuRecord(v, ctx, ext, xs));
                }
                items.add(new PvSharedInfo(randomBytes(4096)));
            } else {
                items.add(new HvmMagicPfns(rnd.nextLong(p2m), rnd.nextLong(p2m), rnd.nextLong(p2m)));
                items.add(new HvmTailContext(LegacyFixtures.minimalHvmContext(1 + rnd.nextInt(3))));
                QemuSignature sig = QemuSignature.DEVICE_MODEL_RECORD_0002;
                if (!xenCompatible) {
                    int k = rnd.nextInt(checkpointed ? 2 : 3);
                    sig = QemuSignature.values()[k == 0 ? 1 : k == 1 ? 2 : 0];
                }
                Bytes state = randomBytes(rnd.nextInt(600));
                if (!sig.lengthPrefixed()) {
                    byte[] s = state.toArray();
                    byte[] q = new byte[s.length + 4];
                    q[0] = 'Q';
                    q[1] = 'E';
                    q[2] = 'V';
                    q[3] = 'M';
                    System.arraycopy(s, 0, q, 4, s.length);
                    state = Bytes.of(q);
                    qemuToEof = true;
                }
                items.add(new QemuRecord(sig, state));
            }
            boolean streamLast = !checkpointed || writeLast || qemuToEof;
            items.add(new CheckpointEnd(cp, streamLast));
            if (cp == 0 && compress) {
                formatB = true;
            }
        }
        return new Generated(seed, w, g, gw, checkpointed, List.copyOf(items), Map.copyOf(memory));
    }

    private Bytes randomBytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i += 8) {
            long v = rnd.nextLong();
            for (int j = 0; j < 8 && i + j < n; j++) {
                b[i + j] = (byte) (v >>> (8 * j));
            }
        }
        return Bytes.of(b);
    }

    private PageBatch randomBatch(GuestType g, long p2m, boolean formatB) {
        int max = (int) Math.min(p2m, rnd.nextInt(10) == 0 ? 1024 : 24);
        int n = 1 + rnd.nextInt(max);
        long[] pfns = rnd.longs(0, p2m).distinct().limit(n).toArray();
        int[] types = g == GuestType.PV
                ? new int[] {0x0, 0x0, 0x0, 0x1, 0x2, 0x3, 0x4, 0x9, 0xA, 0xB, 0xC, 0xD, 0xE, 0xF}
                : new int[] {0x0, 0x0, 0x0, 0x0, 0xD, 0xE, 0xF};
        int[] entries = new int[pfns.length];
        boolean nonXtab = false;
        for (int i = 0; i < pfns.length; i++) {
            int t = xenCompatible && rnd.nextBoolean() ? 0 : types[rnd.nextInt(types.length)];
            if (i == pfns.length - 1 && !nonXtab) {
                t = 0;
            }
            entries[i] = t == 0xF ? LegacyFormat.XEN_DOMCTL_PFINFO_XTAB : (t << 28) | (int) pfns[i];
            nonXtab |= t != 0xF;
        }
        if (formatB) {
            return PageBatch.pfnsOnly(entries);
        }
        List<ByteBuffer> pages = new ArrayList<>();
        for (int e : entries) {
            if (LegacyFormat.hasData(e)) {
                byte[] p = randomBytes(4096).toArray();
                memory.put((long) (e & LegacyFormat.PFN_MASK), p);
                pages.add(ByteBuffer.wrap(p));
            }
        }
        return rnd.nextBoolean() ? PageBatch.of(entries, pages.toArray(ByteBuffer[]::new))
                : PageBatch.ofContiguous(entries, concat(pages));
    }

    private static ByteBuffer concat(List<ByteBuffer> pages) {
        ByteBuffer b = ByteBuffer.allocate(pages.size() * 4096);
        for (ByteBuffer p : pages) {
            b.put(p.duplicate());
        }
        return b.flip();
    }

    /** COMPRESSED_DATA chunks for the data-bearing entries of {@code batches}, pages changed a little. */
    private List<LegacyItem> compressed(List<PageBatch> batches) {
        ByteBuffer out = ByteBuffer.allocate(1 << 22);
        for (PageBatch b : batches) {
            for (int i = 0; i < b.count(); i++) {
                if (!b.hasData(i)) {
                    continue;
                }
                long pfn = b.pfn(i);
                byte[] page = memory.computeIfAbsent(pfn, k -> new byte[4096]).clone();
                int edits = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(rnd.nextBoolean() ? 4 : 600);
                for (int k = 0; k < edits; k++) {
                    page[rnd.nextInt(4096)] ^= (byte) (1 + rnd.nextInt(255));
                }
                memory.put(pfn, page);
                if (out.remaining() < LegacyFormat.WORST_COMP_PAGE_SIZE) {
                    out = ByteBuffer.allocate(out.capacity() * 2).put(out.flip());
                }
                encoder.encode(pfn, LegacyFormat.isPageTable(b.entry(i)), ByteBuffer.wrap(page), out);
            }
        }
        out.flip();
        List<LegacyItem> chunks = new ArrayList<>();
        int parts = 1 + rnd.nextInt(3);
        int pos = 0;
        for (int k = 0; k < parts; k++) {
            int end = k == parts - 1 ? out.limit() : pos + rnd.nextInt(out.limit() - pos + 1);
            chunks.add(new CompressedData(Bytes.of(out.array(), pos, end - pos)));
            pos = end;
        }
        return chunks;
    }

    private TscInfoChunk randomTsc() {
        return new TscInfoChunk(new TscInfo(rnd.nextInt(4), rnd.nextLong(), rnd.nextInt(), rnd.nextInt()));
    }

    private VcpuInfo randomVcpuInfo(GuestType g) {
        int max = rnd.nextInt(3) == 0 ? rnd.nextInt(300) : rnd.nextInt(4);
        long[] map = new long[max / 64 + 1];
        map[0] = 1;
        int extra = g == GuestType.PV ? rnd.nextInt(3) : rnd.nextInt(20);
        for (int i = 0; i < extra; i++) {
            int v = rnd.nextInt(max + 1);
            map[v / 64] |= 1L << (v % 64);
        }
        return new VcpuInfo(max, map);
    }

    private List<LegacyItem> randomHvmParams() {
        ChunkType[] order = {ChunkType.HVM_GENERATION_ID_ADDR, ChunkType.HVM_IDENT_PT, ChunkType.HVM_PAGING_RING_PFN,
            ChunkType.HVM_ACCESS_RING_PFN, ChunkType.HVM_SHARING_RING_PFN, ChunkType.HVM_VM86_TSS,
            ChunkType.HVM_CONSOLE_PFN, ChunkType.HVM_ACPI_IOPORTS_LOCATION, ChunkType.HVM_VIRIDIAN,
            ChunkType.HVM_IOREQ_SERVER_PFN, ChunkType.HVM_NR_IOREQ_SERVER_PAGES};
        List<LegacyItem> out = new ArrayList<>();
        for (ChunkType t : order) {
            if (rnd.nextInt(3) == 0) {
                long v = t == ChunkType.HVM_ACPI_IOPORTS_LOCATION ? 1 : 1 + rnd.nextLong(0xFFFFF);
                out.add(new HvmParam(t, v));
            }
        }
        return out;
    }

    private Tmem randomTmem() {
        List<TmemPool> pools = new ArrayList<>();
        int n = rnd.nextInt(3);
        for (int p = 0; p < n; p++) {
            boolean persistent = rnd.nextBoolean();
            int flags = (persistent ? 1 : 0) | (rnd.nextInt(4) == 0 ? 1 << 4 : 0);
            int nPages = persistent ? rnd.nextInt(3) : 0;
            boolean early = nPages > 0 && rnd.nextBoolean();
            int have = early ? rnd.nextInt(nPages) : nPages;
            List<TmemPage> pages = new ArrayList<>();
            for (int i = 0; i < have; i++) {
                pages.add(new TmemPage(rnd.nextLong(), rnd.nextLong(), i, rnd.nextInt(),
                        randomBytes(TmemPool.pageSize(flags))));
            }
            pools.add(new TmemPool(p, flags, nPages, rnd.nextLong(), rnd.nextLong(), pages, early));
        }
        return new Tmem(1, 16, 0, 100, 0, pools);
    }

    private TmemExtra randomTmemExtra() {
        List<TmemInvalidation> inv = new ArrayList<>();
        int n = rnd.nextInt(4);
        for (int i = 0; i < n; i++) {
            inv.add(new TmemInvalidation(rnd.nextInt(4), rnd.nextLong(), rnd.nextLong(), rnd.nextLong(), rnd.nextInt()));
        }
        return new TmemExtra(inv);
    }
}
