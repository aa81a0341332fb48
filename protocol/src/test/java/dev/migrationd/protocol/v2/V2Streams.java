package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

/** Test fixtures: random but valid v2 streams as item lists, and helpers to write and read them. */
public final class V2Streams {
    private V2Streams() {
    }

    /** Shape of a generated stream. */
    public record Shape(GuestType guest, int version, int checkpoints, boolean libxl, int guestWidth) {
    }

    public static Shape randomShape(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        return new Shape(r.nextBoolean() ? GuestType.PV : GuestType.HVM, r.nextBoolean() ? 2 : 3, r.nextInt(4),
                r.nextBoolean(), r.nextBoolean() ? 8 : 4);
    }

    /** A random valid stream of the given shape: libxc items, or libxl items around them. */
    public static List<V2Item> stream(Shape s, long seed) {
        Random r = new Random(seed);
        List<V2Item> items = new ArrayList<>();
        if (s.libxl()) {
            items.add(new LibxlHeader(r.nextBoolean()));
            items.add(LibxlSignalRecord.LIBXC_CONTEXT);
        }
        items.add(new ImageHeader(s.version()));
        items.add(r.nextBoolean() ? DomainHeader.converted(s.guest()) : new DomainHeader(s.guest(), 4, 17));
        if (s.guest() == GuestType.PV) {
            items.add(s.guestWidth() == 8 ? X86PvInfo.GUEST_64 : X86PvInfo.GUEST_32);
        }
        if (s.version() == 3) {
            if (r.nextBoolean()) {
                items.add(new BlobRecord(RecordType.X86_CPUID_POLICY, randomBytes(r, 24 * (1 + r.nextInt(4)))));
                items.add(new BlobRecord(RecordType.X86_MSR_POLICY, randomBytes(r, 16 * (1 + r.nextInt(4)))));
            }
            items.add(SignalRecord.STATIC_DATA_END);
        }
        int p2mSize = 64 + r.nextInt(960);
        if (s.guest() == GuestType.PV) {
            int fpp = 4096 / s.guestWidth();
            long[] frames = new long[(p2mSize - 1) / fpp + 1];
            for (int i = 0; i < frames.length; i++) {
                frames[i] = r.nextInt(p2mSize);
            }
            items.add(new X86PvP2mFrames(0, p2mSize - 1, frames));
        }
        for (int cp = 0; cp <= s.checkpoints(); cp++) {
            int batches = 1 + r.nextInt(3);
            for (int b = 0; b < batches; b++) {
                items.add(randomPageData(r, s.guest(), p2mSize));
            }
            if (cp == 0) {
                int mode = r.nextInt(4);
                int khz = 1_000_000 + r.nextInt(3_000_000);
                long nsec = r.nextLong() >>> 1;
                items.add(new TscInfoRecord(new TscInfo(mode, nsec, khz, r.nextInt(100))));
            }
            if (s.guest() == GuestType.PV) {
                if (cp == 0) {
                    items.add(new SharedInfoRecord(randomBytes(r, 4096)));
                }
                int vcpus = 1 + r.nextInt(3);
                for (int v = 0; v < vcpus; v++) {
                    int ctx = s.guestWidth() == 8 ? V2Format.VCPU_CONTEXT_SIZE_64 : V2Format.VCPU_CONTEXT_SIZE_32;
                    items.add(new VcpuRecord(RecordType.X86_PV_VCPU_BASIC, v, randomBytes(r, ctx)));
                    items.add(new VcpuRecord(RecordType.X86_PV_VCPU_EXTENDED, v, randomBytes(r, 128)));
                    items.add(new VcpuRecord(RecordType.X86_PV_VCPU_XSAVE, v, randomBytes(r, 16 + 512 + 64
                            + 8 * r.nextInt(40))));
                    if (r.nextBoolean()) {
                        items.add(new VcpuRecord(RecordType.X86_PV_VCPU_MSRS, v, randomBytes(r, 16 * r.nextInt(4))));
                    }
                }
            } else {
                List<HvmParams.Param> params = new ArrayList<>();
                int n = 1 + r.nextInt(5);
                for (int i = 0; i < n; i++) {
                    params.add(new HvmParams.Param(r.nextInt(40), r.nextLong()));
                }
                items.add(new HvmParams(params));
                items.add(BlobRecord.hvmContext(randomBytes(r, 8 + r.nextInt(3000))));
            }
            if (cp < s.checkpoints()) {
                items.add(SignalRecord.CHECKPOINT);
                if (s.libxl()) {
                    addEmulatorRecords(items, r, s.guest());
                    items.add(LibxlSignalRecord.CHECKPOINT_END);
                }
            }
        }
        items.add(SignalRecord.END);
        if (s.libxl()) {
            addEmulatorRecords(items, r, s.guest());
            items.add(LibxlSignalRecord.END);
        }
        return items;
    }

    private static void addEmulatorRecords(List<V2Item> items, Random r, GuestType guest) {
        if (guest != GuestType.HVM) {
            return;
        }
        if (r.nextInt(3) == 0) {
            // verify-stream-v2 (Python 3) rejects every EMULATOR_XENSTORE_DATA record; only in round trips
            items.add(new EmulatorRecord(LibxlRecordType.EMULATOR_XENSTORE_DATA, 0, 0, ByteBuffer.wrap(
                    "physmap/f0000000/start_addr\0f0000000\0".getBytes(StandardCharsets.US_ASCII))));
        }
        items.add(new EmulatorRecord(LibxlRecordType.EMULATOR_CONTEXT, r.nextInt(3), 0, randomBytes(r,
                1 + r.nextInt(2000))));
    }

    /** Drops EMULATOR_XENSTORE_DATA (which verify-stream-v2 under Python 3 always rejects). */
    public static List<V2Item> withoutXenstoreData(List<V2Item> items) {
        return items.stream().filter(i -> !(i instanceof EmulatorRecord e
                && e.type() == LibxlRecordType.EMULATOR_XENSTORE_DATA)).toList();
    }

    public static PageData randomPageData(Random r, GuestType guest, int p2mSize) {
        int count = 1 + r.nextInt(6);
        long[] entries = new long[count];
        List<ByteBuffer> pages = new ArrayList<>();
        java.util.Set<Integer> used = new java.util.HashSet<>();
        PageType[] types = guest == GuestType.PV ? PageType.values()
                : new PageType[] {PageType.NOTAB, PageType.NOTAB, PageType.XALLOC, PageType.BROKEN, PageType.XTAB};
        for (int i = 0; i < count; i++) {
            int pfn;
            do {
                pfn = r.nextInt(p2mSize);
            } while (!used.add(pfn));
            PageType t = types[r.nextInt(types.length)];
            entries[i] = PageData.entry(t, pfn);
            if (t.hasData()) {
                pages.add(randomBytes(r, 4096));
            }
        }
        return PageData.of(entries, pages.toArray(ByteBuffer[]::new));
    }

    public static ByteBuffer randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    /** A sink that copies everything into one array, for tests. */
    public static final class Collector implements ByteSink {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        @Override
        public void write(ByteBuffer buffer) {
            byte[] b = new byte[buffer.remaining()];
            buffer.get(b);
            out.write(b, 0, b.length);
        }

        public byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** Writes a libxc item list, or a libxl one (starting with a LibxlHeader). */
    public static byte[] write(List<? extends V2Item> items) {
        Collector c = new Collector();
        try {
            if (!items.isEmpty() && items.getFirst() instanceof LibxlHeader) {
                LibxlWriter w = new LibxlWriter(c);
                for (V2Item i : items) {
                    w.write(i);
                }
            } else {
                LibxcWriter w = new LibxcWriter(c);
                for (V2Item i : items) {
                    w.write((LibxcItem) i);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return c.bytes();
    }

    /** Reads {@code stream} fed in pieces ending at the given cut points (ascending), then finishes. */
    public static List<V2Item> read(byte[] stream, boolean libxl, int... cuts) throws StreamException {
        return read(stream, libxl, StreamLimits.DEFAULT, cuts);
    }

    public static List<V2Item> read(byte[] stream, boolean libxl, StreamLimits limits, int... cuts)
            throws StreamException {
        List<V2Item> items = new ArrayList<>();
        LibxcReader xc = libxl ? null : new LibxcReader(limits);
        LibxlReader xl = libxl ? new LibxlReader(limits) : null;
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : stream.length;
            ByteBuffer in = ByteBuffer.wrap(stream, from, to - from);
            items.addAll(libxl ? xl.feed(in) : xc.feed(in));
            from = to;
        }
        if (libxl) {
            xl.finish();
        } else {
            xc.finish();
        }
        return items;
    }

    /**
     * Reads in callback mode with a page listener (pages streamed one by one), and rebuilds each PAGE_DATA from its
     * entries and copies of the streamed pages, so the result compares with {@link #read}.
     */
    public static List<V2Item> readStreamed(byte[] stream, boolean libxl, StreamLimits limits, int... cuts)
            throws StreamException {
        List<V2Item> items = new ArrayList<>();
        List<ByteBuffer> pending = new ArrayList<>();
        int[] expectEntry = {-1};
        LibxcReader.PageListener pages = (record, entry, page) -> {
            if (items.isEmpty() || items.getLast() != record) {
                throw new AssertionError("page delivered before or away from its record");
            }
            if (entry <= expectEntry[0] || !record.pageType(entry).hasData() || page.remaining() != 4096
                    || !page.isReadOnly()) {
                throw new AssertionError("bad page callback for entry " + entry);
            }
            expectEntry[0] = entry;
            byte[] copy = new byte[4096];
            page.duplicate().get(copy);
            pending.add(ByteBuffer.wrap(copy));
            if (pending.size() == record.dataPageCount()) {
                items.set(items.size() - 1, PageData.of(record.entries(), pending.toArray(ByteBuffer[]::new)));
                pending.clear();
                expectEntry[0] = -1;
            }
        };
        java.util.function.Consumer<V2Item> sink = item -> {
            if (!pending.isEmpty()) {
                throw new AssertionError("item before the pages of the previous record");
            }
            if (item instanceof PageData d && !d.pagesStreamed() && d.dataPageCount() > 0) {
                throw new AssertionError("a PAGE_DATA with kept pages in streamed mode");
            }
            items.add(item);
        };
        LibxcReader xc = libxl ? null : new LibxcReader(limits, sink, pages);
        LibxlReader xl = libxl ? new LibxlReader(limits, sink, pages) : null;
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : stream.length;
            ByteBuffer in = ByteBuffer.wrap(stream, from, to - from);
            List<? extends V2Item> returned = libxl ? xl.feed(in) : xc.feed(in);
            if (!returned.isEmpty()) {
                throw new AssertionError("callback mode returned items from feed");
            }
            from = to;
        }
        if (libxl) {
            xl.finish();
        } else {
            xc.finish();
        }
        return items;
    }

    /** Every offset 1..length-1 as cut points: one byte at a time. */
    public static int[] everyByte(int length) {
        int[] cuts = new int[Math.max(0, length - 1)];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = i + 1;
        }
        return cuts;
    }
}
