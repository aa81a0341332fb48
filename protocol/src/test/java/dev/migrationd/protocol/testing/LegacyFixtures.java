package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.x86.HvmContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Small building blocks for legacy-stream tests (shared through the protocol test-jar). */
public final class LegacyFixtures {
    private LegacyFixtures() {
    }

    /** A sink collecting everything into a byte array (copies each buffer as it arrives). */
    public static final class ByteArraySink implements ByteSink {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        @Override
        public void write(ByteBuffer bytes) {
            byte[] b = new byte[bytes.remaining()];
            bytes.get(b);
            out.writeBytes(b);
        }

        public byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    /** Writes {@code items} with a fresh writer and returns the bytes. */
    public static byte[] write(Width w, GuestType g, boolean checkpointed, List<? extends LegacyItem> items) {
        ByteArraySink sink = new ByteArraySink();
        LegacyStreamWriter writer = new LegacyStreamWriter(sink, w, g, checkpointed);
        try {
            for (LegacyItem i : items) {
                writer.write(i);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sink.toByteArray();
    }

    /** Reads a whole stream from one buffer (page batches detached). */
    public static List<LegacyItem> read(byte[] stream, LegacyStreamReader.Options options) throws StreamException {
        return LegacyStreamReader.readAll(ByteBuffer.wrap(stream), options);
    }

    /** Reads a stream fed in the given pieces (split points ascending); page batches detached. */
    public static List<LegacyItem> readSplit(byte[] stream, LegacyStreamReader.Options options, int[] cuts)
            throws StreamException {
        List<LegacyItem> items = new ArrayList<>();
        LegacyStreamReader r = new LegacyStreamReader(options, i -> items.add(i instanceof PageBatch b ? b.detach() : i));
        int prev = 0;
        for (int c : cuts) {
            // a fresh array per piece: views must not depend on earlier pieces
            r.feed(ByteBuffer.wrap(java.util.Arrays.copyOfRange(stream, prev, c)));
            prev = c;
        }
        r.feed(ByteBuffer.wrap(java.util.Arrays.copyOfRange(stream, prev, stream.length)));
        r.finish();
        return items;
    }

    /**
     * Reads a stream in the given pieces with a {@link LegacyStreamReader.PageListener}, and rebuilds whole page
     * batches from the streamed pages (so the result compares equal to the written items).
     */
    public static List<LegacyItem> readStreamed(byte[] stream, LegacyStreamReader.Options options, int[] cuts)
            throws StreamException {
        List<LegacyItem> items = new ArrayList<>();
        List<ByteBuffer> pages = new ArrayList<>();
        PageBatch[] current = new PageBatch[1];
        int[] expectEntry = new int[1];
        Runnable flush = () -> {
            if (current[0] != null) {
                if (pages.size() != current[0].dataCount()) {
                    throw new AssertionError("streamed " + pages.size() + " pages for " + current[0]);
                }
                items.add(PageBatch.of(current[0].entries(), pages.toArray(ByteBuffer[]::new)));
                current[0] = null;
                pages.clear();
            }
        };
        LegacyStreamReader r = new LegacyStreamReader(options, i -> {
            flush.run();
            if (i instanceof PageBatch b && b.pagesStreamed()) {
                current[0] = b;
                expectEntry[0] = 0;
            } else {
                items.add(i instanceof PageBatch b ? b.detach() : i);
            }
        }, (batch, entry, page) -> {
            if (batch != current[0]) {
                throw new AssertionError("page for another batch");
            }
            while (!batch.hasData(expectEntry[0])) {
                expectEntry[0]++;
            }
            if (entry != expectEntry[0]++) {
                throw new AssertionError("page of entry " + entry + " out of order");
            }
            byte[] copy = new byte[page.remaining()];
            page.duplicate().get(copy);
            pages.add(ByteBuffer.wrap(copy));
        });
        int prev = 0;
        for (int c : cuts) {
            r.feed(ByteBuffer.wrap(java.util.Arrays.copyOfRange(stream, prev, c)));
            prev = c;
        }
        r.feed(ByteBuffer.wrap(java.util.Arrays.copyOfRange(stream, prev, stream.length)));
        r.finish();
        flush.run();
        return items;
    }

    /**
     * A minimal valid HVM context (docs/wire-format-legacy.md §10): HEADER (magic 0x54381286, version 1) + one CPU
     * record of 1024 bytes in x86 reset state per vcpu + END. 1072 bytes for one vcpu.
     */
    public static Bytes minimalHvmContext(int vcpus) {
        ByteBuffer b = ByteBuffer.allocate(8 + 24 + vcpus * (8 + 1024) + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 1).putShort((short) 0).putInt(24);
        b.putInt(HvmContext.HVM_FILE_MAGIC).putInt(HvmContext.HVM_FILE_VERSION).putLong(-1L)
                .putInt(0x000306c3).putInt(2_400_000);
        for (int v = 0; v < vcpus; v++) {
            b.putShort((short) 2).putShort((short) v).putInt(1024);
            int base = b.position();
            b.putShort(base, (short) 0x037F);          // FCW
            b.putInt(base + 24, 0x1F80);               // MXCSR
            b.putLong(base + 640, 0xFFF0);             // rip
            b.putLong(base + 648, 2);                  // rflags
            b.putLong(base + 656, 0x60000010L);        // cr0
            b.putLong(base + 688 + 4 * 8, 0xFFFF0FF0L); // dr6
            b.putLong(base + 688 + 5 * 8, 0x400);      // dr7
            b.putInt(base + 736, 0xF000);              // cs sel
            for (int i = 0; i < 10; i++) {
                b.putInt(base + 768 + 4 * i, 0xFFFF);  // limits cs..gdtr
            }
            b.putLong(base + 808, 0xFFFF0000L);        // cs base
            int[] ar = {0x9b, 0x93, 0x93, 0x93, 0x93, 0x93, 0x8b, 0x82};
            for (int i = 0; i < ar.length; i++) {
                b.putInt(base + 888 + 4 * i, ar[i]);
            }
            b.position(base + 1024);
        }
        b.putLong(0); // END
        return Bytes.of(b.array());
    }

    /** A vcpu_guest_context of the given guest width with the VGCF_online flag set, otherwise zero. */
    public static Bytes pvVcpuContext(Width guestWidth) {
        byte[] b = new byte[LegacyFormat.vcpuContextSize(guestWidth)];
        b[512] = 1 << 5 | 1; // flags: online | i387_valid
        return Bytes.of(b);
    }
}
