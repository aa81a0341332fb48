package dev.migrationd.protocol.legacy;

import static dev.migrationd.protocol.legacy.LegacyFormat.FLAGMASK;
import static dev.migrationd.protocol.legacy.LegacyFormat.FULL_PAGE;
import static dev.migrationd.protocol.legacy.LegacyFormat.LENMASK;
import static dev.migrationd.protocol.legacy.LegacyFormat.PAGE_SIZE;
import static dev.migrationd.protocol.legacy.LegacyFormat.SKIPFLAG;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Remus checkpoint compression (docs/wire-format-legacy.md §11, Xen 4.2–4.5 {@code xc_compression.c}), byte-exact.
 *
 * <p>Each page of a Format B checkpoint is encoded as one of:
 * <pre>
 *   0x00                          EMPTY: page unchanged
 *   0x80 u8[4096]                 FULL page
 *   { u8 flag|n ; [u8 data[4n]] }+  runs over the 1024 32-bit words, n = 1..127:
 *                                  flag 0x00 = COPY (4n bytes follow), 0x80 = SKIP (unchanged); they cover 4096 bytes
 * </pre>
 * The encodings of all pages of one checkpoint are concatenated and split into COMPRESSED_DATA chunks at
 * arbitrary points; the receiver decodes one page per data-bearing PFN entry, in PFN-array order, onto the page
 * currently in guest memory.
 */
public final class CheckpointCompression {
    private CheckpointCompression() {
    }

    private static final int WORDS = PAGE_SIZE / 4;

    /** Where a decoded page goes: a writable 4096-byte view of the page's current content. */
    @FunctionalInterface
    public interface PageTargets {
        /** The target of the {@code pageIndex}-th compressed page of the checkpoint (0-based). */
        ByteBuffer target(long pageIndex);
    }

    /**
     * The sender's encoder with its LRU delta cache of {@link LegacyFormat#DELTA_CACHE_PAGES} pages keyed by PFN.
     * Not thread-safe: one encoder per stream, used by the thread that writes it.
     *
     * <p>Xen buffers a checkpoint's pages and invalidates page-table PFNs at the time a page is <i>added</i>,
     * looking the cache up when the buffer is <i>compressed</i>; this encoder does both at {@link #encode}. The
     * output differs only if one PFN is sent twice within one 8192-page buffer, first as a normal page and then
     * as a page table, which Xen's sender never does (a PFN is sent at most once per checkpoint).
     */
    public static final class Encoder {
        private final int capacity;
        private final LinkedHashMap<Long, Integer> lru = new LinkedHashMap<>(16, 0.75f, true);
        private final ArrayDeque<Integer> free = new ArrayDeque<>();
        private final byte[][] slots;
        private int allocated;

        public Encoder() {
            this(LegacyFormat.DELTA_CACHE_PAGES);
        }

        /** An encoder with a smaller cache (tests). */
        public Encoder(int cachePages) {
            if (cachePages < 1) {
                throw new IllegalArgumentException("cache needs at least one page");
            }
            this.capacity = cachePages;
            this.slots = new byte[cachePages][];
        }

        /** PFNs in the cache from least to most recently used. */
        public long[] cachedPfns() {
            return lru.keySet().stream().mapToLong(Long::longValue).toArray();
        }

        /**
         * Encodes one page (its 4096 remaining bytes; position unchanged) and appends the encoding to {@code out}
         * (which needs {@link LegacyFormat#WORST_COMP_PAGE_SIZE} bytes free). Returns the encoded size.
         */
        public int encode(long pfn, boolean pageTable, ByteBuffer page, ByteBuffer out) {
            if (page.remaining() != PAGE_SIZE) {
                throw new IllegalArgumentException("a page is 4096 bytes");
            }
            if (pageTable) {
                Integer slot = lru.remove(pfn);
                if (slot != null) {
                    free.push(slot);
                }
                return putFull(page, out);
            }
            Integer slot = lru.get(pfn);
            if (slot == null) {
                if (!free.isEmpty()) {
                    slot = free.pop();
                } else if (allocated < capacity) {
                    slot = allocated++;
                    slots[slot] = new byte[PAGE_SIZE];
                } else {
                    Iterator<Map.Entry<Long, Integer>> eldest = lru.entrySet().iterator();
                    slot = eldest.next().getValue();
                    eldest.remove();
                }
                page.get(page.position(), slots[slot]);
                lru.put(pfn, slot);
                return putFull(page, out);
            }
            return putDelta(page, slots[slot], out);
        }

        private static int putFull(ByteBuffer page, ByteBuffer out) {
            out.put((byte) FULL_PAGE);
            out.put(page.duplicate());
            return LegacyFormat.FULL_PAGE_SIZE;
        }

        private static int putDelta(ByteBuffer page, byte[] cached, ByteBuffer out) {
            int start = out.position();
            int base = page.position();
            ByteBuffer old = ByteBuffer.wrap(cached);
            boolean anyCopy = false;
            int runStart = 0;
            int runLen = 0;
            boolean runCopy = false;
            for (int w = 0; w <= WORDS; w++) {
                boolean copy = w < WORDS && page.getInt(base + 4 * w) != old.getInt(4 * w);
                if (runLen > 0 && (w == WORDS || copy != runCopy || runLen == LENMASK)) {
                    if (runCopy) {
                        out.put((byte) runLen);
                        out.put(out.position(), page, base + 4 * runStart, 4 * runLen);
                        out.position(out.position() + 4 * runLen);
                        page.get(base + 4 * runStart, cached, 4 * runStart, 4 * runLen);
                        anyCopy = true;
                    } else {
                        out.put((byte) (SKIPFLAG | runLen));
                    }
                    runLen = 0;
                    runStart = w;
                }
                runCopy = copy;
                runLen++;
            }
            if (!anyCopy) {
                out.position(start);
                out.put((byte) LegacyFormat.EMPTY_PAGE);
            }
            return out.position() - start;
        }
    }

    /**
     * A streaming decoder (or, without targets, a structure scanner) of the concatenated compressed data of one
     * checkpoint. Data may be split anywhere, also inside a page. Not thread-safe.
     */
    public static final class Decoder {
        private static final int PAGE_START = 0;
        private static final int FULL = 1;
        private static final int RUN_MARKER = 2;
        private static final int COPY = 3;

        private final PageTargets targets;
        private int state = PAGE_START;
        private int pagePos;
        private int remaining;
        private long pages;
        private long consumed;
        private ByteBuffer target;

        /** A decoder applying pages onto {@code targets}; null only scans and counts. */
        public Decoder(PageTargets targets) {
            this.targets = targets;
        }

        /** Pages completely decoded so far. */
        public long pagesDecoded() {
            return pages;
        }

        /** Whether the data so far ends exactly at a page boundary. */
        public boolean atPageBoundary() {
            return state == PAGE_START;
        }

        /** Bytes of compressed data consumed so far. */
        public long consumed() {
            return consumed;
        }

        /**
         * Consumes all of {@code data}. {@code maxPages} bounds the pages that may be started (the data-bearing
         * PFN entries seen so far); exceeding it, zero-length runs and runs past the page end are errors.
         */
        public void feed(ByteBuffer data, long maxPages) throws RecordException {
            while (data.hasRemaining()) {
                switch (state) {
                    case PAGE_START -> {
                        if (pages >= maxPages) {
                            throw error("more compressed pages than data-bearing PFN entries (" + maxPages + ")");
                        }
                        target = targets == null ? null : targets.target(pages);
                        int b = data.get() & 0xFF;
                        consumed++;
                        pagePos = 0;
                        if (b == LegacyFormat.EMPTY_PAGE) {
                            endPage();
                        } else if (b == FULL_PAGE) {
                            state = FULL;
                            remaining = PAGE_SIZE;
                        } else {
                            run(b);
                        }
                    }
                    case RUN_MARKER -> {
                        int b = data.get() & 0xFF;
                        consumed++;
                        if ((b & LENMASK) == 0) {
                            throw error("zero-length run inside a page at page offset " + pagePos);
                        }
                        run(b);
                    }
                    case FULL, COPY -> {
                        int n = Math.min(remaining, data.remaining());
                        if (target != null) {
                            target.put(target.position() + pagePos, data, data.position(), n);
                        }
                        data.position(data.position() + n);
                        consumed += n;
                        pagePos += n;
                        remaining -= n;
                        if (remaining == 0) {
                            afterRun();
                        }
                    }
                    default -> throw new IllegalStateException();
                }
            }
        }

        private void run(int marker) throws RecordException {
            int len = (marker & LENMASK) * 4;
            if (pagePos + len > PAGE_SIZE) {
                throw error("run of " + len + " bytes passes the page end at page offset " + pagePos);
            }
            if ((marker & FLAGMASK) == SKIPFLAG) {
                pagePos += len;
                afterRun();
            } else {
                state = COPY;
                remaining = len;
            }
        }

        private void afterRun() {
            if (pagePos == PAGE_SIZE) {
                endPage();
            } else {
                state = RUN_MARKER;
            }
        }

        private void endPage() {
            pages++;
            state = PAGE_START;
            target = null;
        }

        private RecordException error(String problem) {
            return new RecordException(ChunkType.COMPRESSED_DATA.xenName(), ChunkType.COMPRESSED_DATA.code(),
                    consumed, "compressed page " + pages + ": " + problem);
        }
    }
}
