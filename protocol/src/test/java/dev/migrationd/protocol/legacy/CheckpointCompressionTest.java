package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Checkpoint compression (§11) against golden bytes computed by hand from the spec's rules. */
class CheckpointCompressionTest {

    private static byte[] page(int seed) {
        byte[] p = new byte[4096];
        new SplittableRandom(seed).nextBytes(p);
        return p;
    }

    private static byte[] enc(CheckpointCompression.Encoder e, long pfn, boolean pt, byte[] page) {
        ByteBuffer out = ByteBuffer.allocate(LegacyFormat.WORST_COMP_PAGE_SIZE);
        int n = e.encode(pfn, pt, ByteBuffer.wrap(page), out);
        assertEquals(n, out.position());
        return Arrays.copyOf(out.array(), n);
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Test
    void fullThenEmptyThenRuns() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder();
        byte[] p = page(1);
        // not cached: FULL = 0x80 + the page
        assertArrayEquals(concat(new byte[] {(byte) 0x80}, p), enc(e, 7, false, p));
        // cached and unchanged: EMPTY
        assertArrayEquals(new byte[] {0x00}, enc(e, 7, false, p));
        // word 0 and word 1023 changed: COPY 1, SKIP 1022 = 8 x 127 + 6, COPY 1
        byte[] q = p.clone();
        q[0] ^= 1;
        q[4095] ^= 1;
        byte[] expect = concat(
                new byte[] {0x01}, Arrays.copyOfRange(q, 0, 4),                  // COPY 1 word
                new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,  // SKIP 127 ×8
                    (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF},
                new byte[] {(byte) 0x86},                                        // SKIP 6
                new byte[] {0x01}, Arrays.copyOfRange(q, 4092, 4096));           // COPY 1 word
        assertEquals(19, expect.length);
        assertArrayEquals(expect, enc(e, 7, false, q));
        // the cache now holds q: unchanged again
        assertArrayEquals(new byte[] {0x00}, enc(e, 7, false, q));
    }

    @Test
    void everyWordChangedIsTheWorstCase() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder();
        byte[] p = new byte[4096];
        enc(e, 1, false, p);
        byte[] q = new byte[4096];
        Arrays.fill(q, (byte) 0x5A);
        byte[] got = enc(e, 1, false, q);
        assertEquals(LegacyFormat.WORST_COMP_PAGE_SIZE, got.length);
        for (int r = 0; r < 8; r++) {
            assertEquals(0x7F, got[r * 509] & 0xFF, "COPY 127 marker of run " + r);
        }
        assertEquals(0x08, got[8 * 509] & 0xFF, "last COPY run of 8 words");
        assertEquals(4105 - 8 * 509, 1 + 32);
    }

    @Test
    void alternatingWordsAndRunLengthBoundaries() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder();
        byte[] p = new byte[4096];
        enc(e, 1, false, p);
        byte[] q = p.clone();
        // words 0..126 changed (one COPY run of exactly 127), word 127 changed too (new COPY run of 1),
        // then 896 unchanged words = 7 x 128? no: 896 = 7*127 + 7 → SKIP 127 x7, SKIP 7
        for (int w = 0; w < 128; w++) {
            q[4 * w] = 1;
        }
        byte[] got = enc(e, 1, false, q);
        ByteBuffer x = ByteBuffer.wrap(got);
        assertEquals(0x7F, x.get() & 0xFF);
        x.position(x.position() + 508);
        assertEquals(0x01, x.get() & 0xFF);
        x.position(x.position() + 4);
        for (int i = 0; i < 7; i++) {
            assertEquals(0xFF, x.get() & 0xFF);
        }
        assertEquals(0x87, x.get() & 0xFF);
        assertFalse(x.hasRemaining());
    }

    @Test
    void pageTablesAreAlwaysFullAndLeaveTheCache() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder();
        byte[] p = page(3);
        enc(e, 9, false, p);
        assertArrayEquals(new long[] {9}, e.cachedPfns());
        assertEquals(4097, enc(e, 9, true, p).length);        // page table: FULL even though cached
        assertArrayEquals(new long[] {}, e.cachedPfns());       // ... and removed
        assertEquals(4097, enc(e, 9, false, p).length);        // so the next normal send is FULL again
    }

    @Test
    void leastRecentlyUsedIsEvictedOnlyWhenFull() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder(2);
        byte[] p = page(4);
        assertEquals(4097, enc(e, 1, false, p).length);
        assertEquals(4097, enc(e, 2, false, p).length);
        assertEquals(1, enc(e, 1, false, p).length);           // hit: 1 becomes most recent
        assertEquals(4097, enc(e, 3, false, p).length);        // miss: evicts 2 (least recent)
        assertArrayEquals(new long[] {1, 3}, e.cachedPfns());
        assertEquals(4097, enc(e, 2, false, p).length);        // 2 was evicted; evicts 1
        assertEquals(1, enc(e, 3, false, p).length);
        // a page table frees its slot: the next miss takes it without evicting
        assertEquals(4097, enc(e, 2, true, p).length);
        assertArrayEquals(new long[] {3}, e.cachedPfns());
        assertEquals(4097, enc(e, 5, false, p).length);
        assertArrayEquals(new long[] {3, 5}, e.cachedPfns());
        assertEquals(1, enc(e, 3, false, p).length);
    }

    @Test
    void defaultCacheHolds8192Pages() {
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder();
        byte[] p = new byte[4096];
        for (int pfn = 0; pfn < 8192; pfn++) {
            enc(e, pfn, false, p);
        }
        assertEquals(1, enc(e, 0, false, p).length);    // all 8192 still cached; 0 becomes most recent
        assertEquals(4097, enc(e, 8192, false, p).length); // evicts pfn 1
        assertEquals(4097, enc(e, 1, false, p).length);
        assertEquals(8192, e.cachedPfns().length);
    }

    @Test
    void decoderAppliesOntoPreviousContentInAnySplit() throws RecordException {
        SplittableRandom r = new SplittableRandom(11);
        CheckpointCompression.Encoder e = new CheckpointCompression.Encoder(5);
        int n = 6;
        byte[][] receiver = new byte[n][];
        byte[][] sender = new byte[n][];
        for (int i = 0; i < n; i++) {
            sender[i] = page(100 + i);
            receiver[i] = sender[i].clone(); // checkpoint 1 content, already on the receiver
            enc(e, i, false, sender[i]);     // sender's cache: pfn 5 evicted 0, holds 1..5
        }
        // checkpoint 2: change some words of every page, page 3 is a page table
        List<byte[]> encoded = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < i * 40; k++) {
                sender[i][r.nextInt(4096)] ^= 0x10;
            }
            encoded.add(enc(e, i, i == 3, sender[i]));
        }
        // checkpoint 2 in order: 0 misses (evicts 1), 1 misses (evicts 2), 2 misses (evicts 3), 3 is a page table
        assertEquals(4097, encoded.get(0).length, "pfn 0 was evicted: FULL");
        assertEquals(4097, encoded.get(1).length, "pfn 1 was evicted by pfn 0's miss: FULL");
        assertEquals(4097, encoded.get(2).length, "pfn 2 was evicted by pfn 1's miss: FULL");
        assertEquals(4097, encoded.get(3).length, "page table: FULL");
        assertTrue(encoded.get(4).length < 2000, "pfn 4 cached: delta");
        assertTrue(encoded.get(5).length < 2000, "pfn 5 cached: delta");
        byte[] all = concat(encoded.toArray(byte[][]::new));
        for (int split = 0; split <= all.length; split += 97) {
            byte[][] mem = Arrays.stream(receiver).map(byte[]::clone).toArray(byte[][]::new);
            CheckpointCompression.Decoder d = new CheckpointCompression.Decoder(i -> ByteBuffer.wrap(mem[(int) i]));
            d.feed(ByteBuffer.wrap(all, 0, split), n);
            d.feed(ByteBuffer.wrap(all, split, all.length - split), n);
            assertTrue(d.atPageBoundary());
            assertEquals(n, d.pagesDecoded());
            for (int i = 0; i < n; i++) {
                assertArrayEquals(sender[i], mem[i], "page " + i + " split " + split);
            }
        }
    }

    @Test
    void decoderRejectsMalformedData() {
        byte[] target = new byte[4096];
        CheckpointCompression.Decoder d = new CheckpointCompression.Decoder(i -> ByteBuffer.wrap(target));
        // a run marker with n = 0 inside a page (after SKIP 1)
        RecordException e = assertThrows(RecordException.class, () -> d.feed(ByteBuffer.wrap(new byte[] {(byte) 0x81, 0x00}), 1));
        assertTrue(e.getMessage().contains("zero-length run"), e.getMessage());
        // SKIP runs passing the page end: 9 x 127 words
        byte[] over = new byte[9];
        Arrays.fill(over, (byte) 0xFF);
        e = assertThrows(RecordException.class, () -> new CheckpointCompression.Decoder(null).feed(ByteBuffer.wrap(over), 1));
        assertTrue(e.getMessage().contains("passes the page end"), e.getMessage());
        // more pages than data-bearing entries
        e = assertThrows(RecordException.class,
                () -> new CheckpointCompression.Decoder(null).feed(ByteBuffer.wrap(new byte[] {0, 0}), 1));
        assertTrue(e.getMessage().contains("more compressed pages"), e.getMessage());
        assertEquals(LegacyFormat.XC_SAVE_ID_COMPRESSED_DATA, e.code());
    }
}
