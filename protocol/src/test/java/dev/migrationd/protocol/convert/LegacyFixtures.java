package dev.migrationd.protocol.convert;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.ToolstackPhysmap;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.x86.TscInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/** Legacy streams as item lists (written with the legacy writer), for the converter tests. */
final class LegacyFixtures {
    private LegacyFixtures() {
    }

    /**
     * @param checkpoints number of checkpoints (1 = plain save/migration)
     * @param lastMarker  the last checkpoint carries LAST_CHECKPOINT (else a checkpointed stream ends in EOF)
     */
    record Case(GuestType guest, Width toolstack, Width guestWidth, int checkpoints, boolean lastMarker) {
        boolean checkpointed() {
            return checkpoints > 1 || !lastMarker;
        }

        @Override
        public String toString() {
            return guest + " W" + toolstack.bits() + (guest == GuestType.PV ? " GW" + guestWidth.bits() : "")
                    + (checkpoints > 1 ? " x" + checkpoints + (lastMarker ? "" : " EOF") : "");
        }
    }

    static List<LegacyItem> items(Case c, long seed) {
        Random r = new Random(seed);
        List<LegacyItem> items = new ArrayList<>();
        long p2mSize = 300 + r.nextInt(1800);
        int[] online = c.guest() == GuestType.PV ? new int[] {0, 2} : new int[] {0, 1};
        int ctxSize = c.guestWidth() == Width.W64 ? 0x1430 : 0xAF0;
        int xsaveBuffer = 16 + 512 + 64;
        if (c.guest() == GuestType.PV) {
            int fpp = 4096 / c.guestWidth().bytes();
            long[] frames = new long[(int) ((p2mSize - 1) / fpp + 1)];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = r.nextInt((int) p2mSize);
            }
            items.add(new PvHeader(p2mSize, bytes(r, ctxSize), true, 16 + xsaveBuffer, frames));
        } else {
            items.add(new HvmHeader(p2mSize));
        }
        for (int cp = 0; cp < c.checkpoints(); cp++) {
            boolean last = cp == c.checkpoints() - 1;
            if (cp == 0) {
                items.add(new TscInfoChunk(new TscInfo(1 + r.nextInt(3), r.nextLong() >>> 2,
                        1_000_000 + r.nextInt(3_000_000), r.nextInt(50))));
            }
            int batches = 1 + r.nextInt(3);
            for (int b = 0; b < batches; b++) {
                items.add(batch(r, c.guest(), p2mSize));
            }
            items.add(VcpuInfo.ofOnline(online));
            if (c.guest() == GuestType.HVM) {
                for (ChunkType t : new ChunkType[] {ChunkType.HVM_GENERATION_ID_ADDR, ChunkType.HVM_IDENT_PT,
                        ChunkType.HVM_PAGING_RING_PFN, ChunkType.HVM_ACCESS_RING_PFN, ChunkType.HVM_SHARING_RING_PFN,
                        ChunkType.HVM_VM86_TSS, ChunkType.HVM_CONSOLE_PFN, ChunkType.HVM_ACPI_IOPORTS_LOCATION,
                        ChunkType.HVM_VIRIDIAN, ChunkType.HVM_IOREQ_SERVER_PFN, ChunkType.HVM_NR_IOREQ_SERVER_PAGES}) {
                    if (r.nextInt(3) > 0) {
                        items.add(new HvmParam(t, 1 + r.nextInt(0xFFFFF)));
                    }
                }
            }
            List<ToolstackPhysmap.Entry> physmap = c.guest() == GuestType.HVM
                    ? List.of(new ToolstackPhysmap.Entry(0xF000_0000L, 0xF000_0000L, 0x80_0000, "vga.vram"),
                            new ToolstackPhysmap.Entry(0xF100_0000L + cp, 0xF100_0000L, 0x1_0000, "rom@0x" + cp))
                    : List.of();
            items.add(new Toolstack(ToolstackPhysmap.encode(c.toolstack(), physmap)));
            if (last && c.lastMarker()) {
                items.add(new Marker(ChunkType.LAST_CHECKPOINT));
            }
            items.add(new EndOfBody());
            if (c.guest() == GuestType.PV) {
                Set<Long> un = new HashSet<>();
                int n = r.nextInt(6);
                while (un.size() < n) {
                    un.add((long) r.nextInt((int) p2mSize));
                }
                items.add(new PvUnmappedPfns(un.stream().mapToLong(Long::longValue).sorted().toArray()));
                for (int v : online) {
                    items.add(new PvVcpuRecord(v, bytes(r, ctxSize), bytes(r, 128),
                            new XsaveRecord(r.nextLong(), bytes(r, xsaveBuffer).toArray())));
                }
                items.add(new PvSharedInfo(bytes(r, 4096)));
            } else {
                items.add(new HvmMagicPfns(0xFEFF0 + cp, 0xFEFF1, 0xFEFF2));
                items.add(new HvmTailContext(hvmContext(r)));
                byte[] qemu = new byte[4 + r.nextInt(3000)];
                r.nextBytes(qemu);
                System.arraycopy("QEVM".getBytes(), 0, qemu, 0, 4);
                items.add(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.of(qemu)));
            }
            items.add(new CheckpointEnd(cp, last && (c.lastMarker() || !c.checkpointed())));
        }
        return items;
    }

    static PageBatch batch(Random r, GuestType guest, long p2mSize) {
        int n = 1 + r.nextInt(40);
        int[] entries = new int[n];
        List<ByteBuffer> pages = new ArrayList<>();
        Set<Integer> used = new HashSet<>();
        PageType[] types = guest == GuestType.PV ? PageType.values()
                : new PageType[] {PageType.NOTAB, PageType.NOTAB, PageType.NOTAB, PageType.XALLOC, PageType.BROKEN,
                        PageType.XTAB};
        for (int i = 0; i < n; i++) {
            PageType t = i == 0 ? PageType.NOTAB : types[r.nextInt(types.length)];
            if (t == PageType.XTAB) {
                entries[i] = t.pfinfo(); // the sender writes XTAB without a PFN
                continue;
            }
            int pfn;
            do {
                pfn = r.nextInt((int) p2mSize);
            } while (!used.add(pfn));
            entries[i] = t.pfinfo() | pfn;
            if (t.hasData()) {
                byte[] p = new byte[4096];
                r.nextBytes(p);
                pages.add(ByteBuffer.wrap(p));
            }
        }
        return PageBatch.of(entries, pages.toArray(ByteBuffer[]::new));
    }

    /** HEADER + one CPU record + END, as Xen's loader wants it. */
    static Bytes hvmContext(Random r) {
        ByteBuffer b = ByteBuffer.allocate(8 + 24 + 8 + 1024 + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 1).putShort((short) 0).putInt(24);
        b.putInt(0x54381286).putInt(1).putLong(-1L).putInt(0x000306C3).putInt(2_000_000);
        b.putShort((short) 2).putShort((short) 0).putInt(1024);
        byte[] cpu = new byte[1024];
        r.nextBytes(cpu);
        b.put(cpu);
        b.putLong(0);
        return Bytes.of(b.array());
    }

    static Bytes bytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return Bytes.of(b);
    }

    static byte[] write(Case c, List<LegacyItem> items) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        LegacyStreamWriter w = new LegacyStreamWriter(b -> {
            byte[] a = new byte[b.remaining()];
            b.get(a);
            out.writeBytes(a);
        }, c.toolstack(), c.guest(), c.checkpointed());
        try {
            for (LegacyItem i : items) {
                w.write(i);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
