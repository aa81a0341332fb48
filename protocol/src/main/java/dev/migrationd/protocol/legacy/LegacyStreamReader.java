package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.TscInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * An incremental, push-based reader of a legacy libxc save stream (legacy-stream.md). Feed it bytes in any
 * split with {@link #feed(ByteBuffer)} — one byte at a time yields exactly the items one buffer yields — and
 * call {@link #finish()} at end of input. Items go to the consumer in stream order, synchronously, from inside
 * {@code feed}/{@code finish}.
 *
 * <p><b>Views.</b> A {@link PageBatch}'s pages are views of the buffer passed to {@code feed} (when the whole
 * batch's data is in it) or of the reader's internal accumulation buffer (when it straddles feeds). They are
 * valid only until the consumer returns; {@link PageBatch#detach()} keeps a copy. Every other item is immutable.
 *
 * <p><b>End of stream.</b> Once the last checkpoint is complete ({@link #isComplete()}), {@code feed} consumes no
 * more bytes and leaves them in the buffer (the daemon's envelope follows the stream on the same connection).
 * A checkpointed (Remus) stream without LAST_CHECKPOINT ends with EOF at a checkpoint boundary.
 *
 * <p><b>Validation.</b> Every length and count is checked against {@link StreamLimits} and the spec before it
 * sizes anything, and buffers grow only as bytes actually arrive, so a lying length costs at most the bytes
 * sent. Errors are {@link StreamFatalException} (framing lost: unknown chunk id, impossible length,
 * truncation) or {@link RecordException} (bad content), naming the item, its code (hex) and the byte offset
 * where the item starts. After an error the reader is poisoned: every further call throws.
 *
 * <p>Threading: confined to the thread that feeds it (the connection's event loop or a test); not thread-safe.
 * A consumer that throws leaves the reader unusable.
 */
public final class LegacyStreamReader {

    /**
     * @param width        the saving toolstack's width W, or null to detect it from octets 4–7 (§2)
     * @param guestType    PV or HVM, or null to detect it (PV iff the W bytes after p2m_size are all 0xFF)
     * @param checkpointed a Remus stream: after a checkpoint without LAST_CHECKPOINT another may follow
     * @param limits       bounds for every length read from the stream
     */
    public record Options(Width width, GuestType guestType, boolean checkpointed, StreamLimits limits) {
        public Options {
            Objects.requireNonNull(limits, "limits");
        }

        /** Detect width and guest type; single checkpoint; default limits. */
        public static Options detect() {
            return new Options(null, null, false, StreamLimits.DEFAULT);
        }

        public static Options of(Width width, GuestType guestType) {
            return new Options(width, guestType, false, StreamLimits.DEFAULT);
        }

        public Options withWidth(Width w) {
            return new Options(w, guestType, checkpointed, limits);
        }

        public Options withGuestType(GuestType g) {
            return new Options(width, g, checkpointed, limits);
        }

        public Options withCheckpointed(boolean c) {
            return new Options(width, guestType, c, limits);
        }

        public Options withLimits(StreamLimits l) {
            return new Options(width, guestType, checkpointed, l);
        }
    }

    /**
     * Receives the pages of each batch one at a time, as soon as each page is complete, so the receiver can copy
     * straight from the fed buffer into guest memory (one copy, even when batches straddle feeds). With a listener,
     * each {@link PageBatch} item (entries only, {@link PageBatch#pagesStreamed()}) is delivered first, then its
     * data pages in entry order.
     */
    @FunctionalInterface
    public interface PageListener {
        /**
         * @param batch      the batch the page belongs to (delivered just before)
         * @param entryIndex index of the page's entry in the batch
         * @param page       a little-endian 4096-byte view, valid only during this call
         */
        void page(PageBatch batch, int entryIndex, ByteBuffer page);
    }

    private enum State {
        DETECT, P2M_SIZE, EXT_SIGNATURE, EXT_TOTAL, EXT_BLOCK_HEADER, EXT_BLOCK_DATA, P2M_FRAMES,
        CHUNK_ID, NEXT_CHECKPOINT, BATCH_PFNS, BATCH_PAGES, BATCH_PAGES_STREAMED, VCPU_INFO_MAX, VCPU_INFO_MAP, HVM_PARAM, TSC_INFO,
        TMEM_HEADER, TMEM_POOL_ID, TMEM_POOL_HEADER, TMEM_OID, TMEM_INDEX, TMEM_DATA,
        TMEM_EXTRA_POOL_ID, TMEM_EXTRA_REST, COMPRESSED_LEN, COMPRESSED_DATA, TOOLSTACK_LEN, TOOLSTACK_DATA,
        PV_NR_UNMAPPED, PV_UNMAPPED, PV_VCPU, PV_SHARED_INFO, HVM_MAGIC, HVM_CTX_LEN, HVM_CTX,
        QEMU_SIG, QEMU_LEN, QEMU_DATA, QEMU_TO_EOF, DONE, FAILED
    }

    private static final int SMALL_ACC = 256;
    private static final int SHRINK_ABOVE = 1 << 20;

    private final Options options;
    private final StreamLimits limits;
    private final Consumer<? super LegacyItem> consumer;
    private final PageListener pageListener;
    private PageBatch streamedBatch;
    private int streamedEntry;
    private int streamedPagesLeft;
    private final ByteBuffer pageScratch = ByteBuffer.allocate(LegacyFormat.PAGE_SIZE);

    private Width width;
    private GuestType guestType;
    private State state;
    private int need;
    private byte[] acc = new byte[SMALL_ACC];
    private int accLen;
    private long offset;
    private StreamException failure;

    // the item being read, for errors
    private String itemName = "HEADER";
    private long itemCode;
    private long itemOffset;

    // header
    private long p2mSize;
    private long extRemaining;
    private int extBlockId;
    private Bytes extVcpu;
    private boolean extv;
    private int xsaveLen;
    private boolean seenExtv;
    private boolean seenXcnt;

    // body, per checkpoint
    private int checkpoint;
    private boolean formatB;
    private boolean enableCompressionSeen;
    private boolean lastCheckpointSeen;
    private VcpuInfo vcpuInfo;
    private long dataEntries;
    private CheckpointCompression.Decoder compressedScan;
    private ChunkType chunk;
    private int batchCount;
    private int[] batchEntries;
    private final int[] pfnScratch = new int[LegacyFormat.MAX_BATCH_SIZE];
    private ByteBuffer pageAcc;
    private int pageFill;
    private int pendingMaxVcpu;

    // tmem
    private long tmemBytes;
    private int[] tmemHeader;
    private List<TmemPool> tmemPools;
    private int tmemPoolId;
    private int tmemFlags;
    private int tmemNPages;
    private long tmemUuid0;
    private long tmemUuid1;
    private long tmemPagesLeft;
    private List<TmemPage> tmemPages;
    private long[] tmemOid;
    private int tmemIndex;
    private List<TmemInvalidation> tmemInvalidations;

    // tail
    private int[] tailVcpus;
    private int tailVcpuNext;
    private QemuSignature qemuSignature;

    public LegacyStreamReader(Options options, Consumer<? super LegacyItem> consumer) {
        this(options, consumer, null);
    }

    /** A reader that hands page data to {@code pages} page by page (see {@link PageListener}); null = whole batches. */
    public LegacyStreamReader(Options options, Consumer<? super LegacyItem> consumer, PageListener pages) {
        this.options = Objects.requireNonNull(options);
        this.limits = options.limits();
        this.consumer = Objects.requireNonNull(consumer);
        this.pageListener = pages;
        this.width = options.width();
        this.guestType = options.guestType();
        if (width != null && guestType != null) {
            beginHeader();
        } else {
            state = State.DETECT;
            need = width == null ? 8 : 2 * width.bytes();
        }
    }

    /** Reads a whole stream held in one buffer; page batches are detached copies. */
    public static List<LegacyItem> readAll(ByteBuffer stream, Options options) throws StreamException {
        List<LegacyItem> items = new ArrayList<>();
        LegacyStreamReader r = new LegacyStreamReader(options, item -> items.add(
                item instanceof PageBatch b ? b.detach() : item));
        r.feed(stream.duplicate());
        r.finish();
        return items;
    }

    /** The toolstack width, given or detected (null until detected). */
    public Width width() {
        return width;
    }

    /** The guest type, given or detected (null until detected). */
    public GuestType guestType() {
        return guestType;
    }

    /** The guest width of a PV stream once its header is read (null for HVM or before). */
    public Width guestWidth() {
        return extVcpu == null ? null : PvHeader.guestWidthOf(extVcpu.size());
    }

    /** Bytes consumed so far. */
    public long offset() {
        return offset;
    }

    /** Whether the stream is complete; further bytes are not consumed. */
    public boolean isComplete() {
        return state == State.DONE;
    }

    /** Index of the checkpoint being read (from 0). */
    public int checkpoint() {
        return checkpoint;
    }

    /**
     * Consumes bytes from {@code in} (advancing its position) and delivers every item they complete. Stops early
     * only when the stream is complete, leaving the rest in {@code in}.
     */
    public void feed(ByteBuffer in) throws StreamException {
        checkUsable();
        try {
            while (in.hasRemaining() && state != State.DONE) {
                step(in);
            }
        } catch (StreamException e) {
            fail(e);
            throw e;
        }
    }

    /** End of input: delivers a to-EOF QEMU record, accepts EOF at a checkpoint boundary, else reports truncation. */
    public void finish() throws StreamException {
        checkUsable();
        try {
            switch (state) {
                case DONE -> {
                }
                case NEXT_CHECKPOINT -> {
                    if (accLen != 0) {
                        throw truncated();
                    }
                    state = State.DONE;
                }
                case QEMU_TO_EOF -> {
                    if (accLen < 4 || !(acc[0] == 'Q' && acc[1] == 'E' && acc[2] == 'V' && acc[3] == 'M')) {
                        throw record("QemuDeviceModelRecord state does not start with \"QEVM\"");
                    }
                    Bytes state0 = Bytes.of(acc, 0, accLen);
                    accLen = 0;
                    acc = new byte[SMALL_ACC];
                    consumer.accept(new QemuRecord(QemuSignature.QEMU_DEVICE_MODEL_RECORD, state0));
                    lastCheckpointSeen = true;
                    endCheckpoint();
                }
                default -> throw truncated();
            }
        } catch (StreamException e) {
            fail(e);
            throw e;
        }
    }

    // ------------------------------------------------------------------ engine

    private void checkUsable() throws StreamException {
        if (state == State.FAILED) {
            throw new StreamFatalException(failure.item(), failure.code(), failure.offset(),
                    "reader failed earlier: " + failure.getMessage(), failure);
        }
    }

    private void fail(StreamException e) {
        failure = e;
        state = State.FAILED;
    }

    private void step(ByteBuffer in) throws StreamException {
        switch (state) {
            case BATCH_PAGES -> stepPages(in);
            case BATCH_PAGES_STREAMED -> stepStreamedPages(in);
            case QEMU_TO_EOF -> {
                int take = in.remaining();
                if ((long) accLen + take > limits.maxQemuRecordBytes()) {
                    throw fatal("QEMU state exceeds " + limits.maxQemuRecordBytes() + " bytes");
                }
                grow(accLen + take, limits.maxQemuRecordBytes());
                in.get(acc, accLen, take);
                accLen += take;
                offset += take;
            }
            case DETECT -> {
                int take = Math.min(need - accLen, in.remaining());
                in.get(acc, accLen, take);
                accLen += take;
                offset += take;
                if (accLen == need) {
                    detect();
                }
            }
            default -> {
                int take = Math.min(need - accLen, in.remaining());
                grow(accLen + take, need);
                in.get(acc, accLen, take);
                accLen += take;
                offset += take;
                if (accLen == need) {
                    complete();
                }
            }
        }
    }

    /** Grows the accumulator to hold {@code min} bytes, geometrically but never beyond {@code cap}. */
    private void grow(int min, int cap) {
        if (acc.length < min) {
            int n = (int) Math.min(Math.max(min, 2L * acc.length), Math.max(min, cap));
            acc = Arrays.copyOf(acc, n);
        }
    }

    private void complete() throws StreamException {
        ByteBuffer f = ByteBuffer.wrap(acc, 0, need).order(ByteOrder.LITTLE_ENDIAN);
        accLen = 0;
        State s = state;
        onField(s, f);
        if (accLen == 0 && acc.length > SHRINK_ABOVE && state != State.QEMU_TO_EOF) {
            acc = new byte[SMALL_ACC];
        }
    }

    /** Next field: {@code n} bytes for state {@code s}; a zero-length field completes at once. */
    private void expect(State s, long n) throws StreamException {
        if (n < 0 || n > Integer.MAX_VALUE - 64) {
            throw fatal("length " + n + " is impossible");
        }
        if (isTmemState(s)) {
            tmemBytes += n;
            if (tmemBytes > limits.maxTmemBytes()) {
                throw fatal("chunk exceeds " + limits.maxTmemBytes() + " bytes (StreamLimits.maxTmemBytes)");
            }
        }
        state = s;
        need = (int) n;
        accLen = 0;
        if (s == State.BATCH_PAGES || s == State.BATCH_PAGES_STREAMED) {
            pageFill = 0;
        } else if (n == 0) {
            complete();
        }
    }

    private static boolean isTmemState(State s) {
        return switch (s) {
            case TMEM_HEADER, TMEM_POOL_ID, TMEM_POOL_HEADER, TMEM_OID, TMEM_INDEX, TMEM_DATA, TMEM_EXTRA_POOL_ID,
                 TMEM_EXTRA_REST -> true;
            default -> false;
        };
    }

    private void item(String name, long code, long start) {
        itemName = name;
        itemCode = code;
        itemOffset = start;
    }

    private void emit(LegacyItem item) {
        consumer.accept(item);
    }

    private long ulong(ByteBuffer f) throws StreamException {
        if (width == Width.W64) {
            return f.getLong();
        }
        return f.getInt() & 0xFFFF_FFFFL;
    }

    // ------------------------------------------------------------------ detection and header

    private void detect() throws StreamException {
        if (width == null) {
            boolean zero = acc[4] == 0 && acc[5] == 0 && acc[6] == 0 && acc[7] == 0;
            width = zero ? Width.W64 : Width.W32;
        }
        if (guestType == null) {
            int w = width.bytes();
            if (accLen < 2 * w) {
                need = 2 * w;
                return;
            }
            boolean ones = true;
            for (int i = w; i < 2 * w; i++) {
                ones &= acc[i] == (byte) 0xFF;
            }
            guestType = ones ? GuestType.PV : GuestType.HVM;
        }
        byte[] prefix = Arrays.copyOf(acc, accLen);
        offset -= prefix.length;
        accLen = 0;
        beginHeader();
        ByteBuffer p = ByteBuffer.wrap(prefix);
        while (p.hasRemaining() && state != State.DONE) {
            step(p);
        }
    }

    private void beginHeader() {
        item("HEADER", 0, 0);
        state = State.P2M_SIZE;
        need = width.bytes();
        accLen = 0;
    }

    private void onField(State s, ByteBuffer f) throws StreamException {
        switch (s) {
            case P2M_SIZE -> {
                long v = ulong(f);
                if (v < 1 || v > LegacyFormat.MAX_P2M_SIZE || v > limits.maxP2mSize()) {
                    throw record("p2m_size 0x" + Long.toHexString(v) + " out of range 1..0x"
                            + Long.toHexString(Math.min(LegacyFormat.MAX_P2M_SIZE, limits.maxP2mSize())));
                }
                p2mSize = v;
                if (guestType == GuestType.PV) {
                    expect(State.EXT_SIGNATURE, width.bytes());
                } else {
                    emit(new HvmHeader(p2mSize));
                    startBody();
                    expect(State.CHUNK_ID, 4);
                }
            }
            case EXT_SIGNATURE -> {
                long sig = ulong(f);
                if (sig != (width == Width.W64 ? -1L : 0xFFFF_FFFFL)) {
                    throw record("no extended-info signature ~0 after p2m_size (pre-3.0 PV image or not PV)");
                }
                expect(State.EXT_TOTAL, 4);
            }
            case EXT_TOTAL -> {
                long total = f.getInt() & 0xFFFF_FFFFL;
                if (total > limits.maxExtInfoBytes()) {
                    throw fatal("extended-info total " + total + " exceeds " + limits.maxExtInfoBytes());
                }
                extRemaining = total;
                nextExtBlock();
            }
            case EXT_BLOCK_HEADER -> {
                int id = f.getInt();
                long size = f.getInt() & 0xFFFF_FFFFL;
                extRemaining -= LegacyFormat.EXT_BLOCK_HEADER;
                String name = blockName(id);
                if (size > extRemaining) {
                    throw record("extended-info block '" + name + "' of " + size + " bytes exceeds the "
                            + extRemaining + " bytes left of total");
                }
                switch (id) {
                    case LegacyFormat.EXT_BLOCK_VCPU -> {
                        if (extVcpu != null) {
                            throw record("duplicate extended-info block 'vcpu'");
                        }
                        if (size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64 && size != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
                            throw record("'vcpu' block of 0x" + Long.toHexString(size) + " bytes (must be 0x1430 or 0xaf0)");
                        }
                    }
                    case LegacyFormat.EXT_BLOCK_EXTV -> {
                        if (seenExtv || size != 0) {
                            throw record("'extv' block must appear once with size 0");
                        }
                    }
                    case LegacyFormat.EXT_BLOCK_XCNT -> {
                        if (seenXcnt || size != 4) {
                            throw record("'xcnt' block must appear once with size 4");
                        }
                    }
                    default -> throw record("unknown extended-info block '" + name + "'");
                }
                extRemaining -= size;
                extBlockId = id;
                expect(State.EXT_BLOCK_DATA, size);
            }
            case EXT_BLOCK_DATA -> {
                switch (extBlockId) {
                    case LegacyFormat.EXT_BLOCK_VCPU -> extVcpu = Bytes.of(acc, 0, f.remaining());
                    case LegacyFormat.EXT_BLOCK_EXTV -> {
                        seenExtv = true;
                        extv = true;
                    }
                    default -> {
                        seenXcnt = true;
                        long v = f.getInt() & 0xFFFF_FFFFL;
                        if (v < LegacyFormat.XSAVE_RECORD_HEADER || v > limits.maxXsaveBytes()) {
                            throw record("xcnt xsave_len " + v + " out of range 16.." + limits.maxXsaveBytes());
                        }
                        xsaveLen = (int) v;
                    }
                }
                nextExtBlock();
            }
            case P2M_FRAMES -> {
                int n = f.remaining() / width.bytes();
                long[] frames = new long[n];
                for (int i = 0; i < n; i++) {
                    long v = ulong(f);
                    if (v < 0 || v >= p2mSize) {
                        throw record("p2m frame list entry " + i + " pfn 0x" + Long.toHexString(v) + " >= p2m_size 0x"
                                + Long.toHexString(p2mSize));
                    }
                    frames[i] = v;
                }
                emit(new PvHeader(p2mSize, extVcpu, extv, xsaveLen, frames));
                startBody();
                expect(State.CHUNK_ID, 4);
            }
            case CHUNK_ID -> chunkId(f.getInt());
            case NEXT_CHECKPOINT -> {
                nextCheckpoint();
                chunkId(f.getInt());
            }
            case BATCH_PFNS -> batchPfns(f);
            case VCPU_INFO_MAX -> {
                int max = f.getInt();
                if (max < 0 || max >= limits.maxVcpus()) {
                    throw record("max_vcpu_id " + max + " out of range 0.." + (limits.maxVcpus() - 1));
                }
                pendingMaxVcpu = max;
                expect(State.VCPU_INFO_MAP, 8L * (max / 64 + 1));
            }
            case VCPU_INFO_MAP -> {
                long[] map = new long[pendingMaxVcpu / 64 + 1];
                for (int i = 0; i < map.length; i++) {
                    map[i] = f.getLong();
                }
                vcpuInfo = new VcpuInfo(pendingMaxVcpu, map);
                emit(vcpuInfo);
                nextChunk();
            }
            case HVM_PARAM -> {
                f.getInt(); // padding, ignored as by the receiver
                emit(new HvmParam(chunk, f.getLong()));
                nextChunk();
            }
            case TSC_INFO -> {
                emit(new TscInfoChunk(new TscInfo(f.getInt(), f.getLong(), f.getInt(), f.getInt())));
                nextChunk();
            }
            case TMEM_HEADER -> {
                int[] h = new int[7];
                for (int i = 0; i < 7; i++) {
                    h[i] = f.getInt();
                }
                if (h[2] != LegacyFormat.TMEM_END || h[6] != LegacyFormat.TMEM_END) {
                    throw record("TMEM header separators must be 0xffffffff");
                }
                tmemHeader = h;
                tmemPools = new ArrayList<>();
                expect(State.TMEM_POOL_ID, 4);
            }
            case TMEM_POOL_ID -> {
                int id = f.getInt();
                if (id == LegacyFormat.TMEM_END) {
                    emit(new Tmem(tmemHeader[0], tmemHeader[1], tmemHeader[3], tmemHeader[4], tmemHeader[5], tmemPools));
                    tmemPools = null;
                    nextChunk();
                } else {
                    tmemPoolId = id;
                    expect(State.TMEM_POOL_HEADER, LegacyFormat.TMEM_POOL_HEADER);
                }
            }
            case TMEM_POOL_HEADER -> {
                tmemFlags = f.getInt();
                tmemNPages = f.getInt();
                tmemUuid0 = f.getLong();
                tmemUuid1 = f.getLong();
                if ((tmemFlags & LegacyFormat.TMEM_POOL_PERSIST) == 0 && tmemNPages != 0) {
                    throw record("non-persistent tmem pool " + tmemPoolId + " with n_pages "
                            + Integer.toUnsignedString(tmemNPages));
                }
                if (TmemPool.pageSize(tmemFlags) > limits.maxTmemBytes()) {
                    throw record("tmem page size " + TmemPool.pageSize(tmemFlags) + " exceeds maxTmemBytes");
                }
                tmemPagesLeft = tmemNPages & 0xFFFF_FFFFL;
                tmemPages = new ArrayList<>();
                nextTmemPage();
            }
            case TMEM_OID -> {
                long a = f.getLong();
                long b = f.getLong();
                long c = f.getLong();
                if (a == -1 && b == -1 && c == -1) {
                    endTmemPool(true);
                } else {
                    tmemOid = new long[] {a, b, c};
                    expect(State.TMEM_INDEX, 4);
                }
            }
            case TMEM_INDEX -> {
                tmemIndex = f.getInt();
                expect(State.TMEM_DATA, TmemPool.pageSize(tmemFlags));
            }
            case TMEM_DATA -> {
                tmemPages.add(new TmemPage(tmemOid[0], tmemOid[1], tmemOid[2], tmemIndex, Bytes.of(acc, 0, f.remaining())));
                tmemPagesLeft--;
                nextTmemPage();
            }
            case TMEM_EXTRA_POOL_ID -> {
                int id = f.getInt();
                if (id == LegacyFormat.TMEM_END) {
                    emit(new TmemExtra(tmemInvalidations));
                    tmemInvalidations = null;
                    nextChunk();
                } else {
                    tmemPoolId = id;
                    expect(State.TMEM_EXTRA_REST, LegacyFormat.TMEM_EXTRA_RECORD - 4);
                }
            }
            case TMEM_EXTRA_REST -> {
                tmemInvalidations.add(new TmemInvalidation(tmemPoolId, f.getLong(), f.getLong(), f.getLong(), f.getInt()));
                expect(State.TMEM_EXTRA_POOL_ID, 4);
            }
            case COMPRESSED_LEN -> {
                long len = ulong(f);
                if (len < 0 || len > limits.maxCompressedChunk()) {
                    throw fatal("COMPRESSED_DATA length " + Long.toUnsignedString(len) + " exceeds "
                            + limits.maxCompressedChunk());
                }
                expect(State.COMPRESSED_DATA, len);
            }
            case COMPRESSED_DATA -> {
                try {
                    compressedScan.feed(f.duplicate(), dataEntries);
                } catch (RecordException e) {
                    throw record(e.getMessage());
                }
                emit(new CompressedData(Bytes.of(acc, 0, f.remaining())));
                nextChunk();
            }
            case TOOLSTACK_LEN -> {
                long len = f.getInt() & 0xFFFF_FFFFL;
                if (len > limits.maxToolstackBytes()) {
                    throw fatal("TOOLSTACK length " + len + " exceeds " + limits.maxToolstackBytes());
                }
                expect(State.TOOLSTACK_DATA, len);
            }
            case TOOLSTACK_DATA -> {
                emit(new Toolstack(Bytes.of(acc, 0, f.remaining())));
                nextChunk();
            }
            case PV_NR_UNMAPPED -> {
                long n = f.getInt() & 0xFFFF_FFFFL;
                long max = Math.min(limits.maxUnmappedPfns(), p2mSize);
                if (n > max) {
                    throw fatal("nr_unmapped " + n + " exceeds " + max);
                }
                expect(State.PV_UNMAPPED, n * width.bytes());
            }
            case PV_UNMAPPED -> {
                long[] pfns = new long[f.remaining() / width.bytes()];
                for (int i = 0; i < pfns.length; i++) {
                    long v = ulong(f);
                    if (v < 0 || v >= p2mSize) {
                        throw record("unmapped pfn " + i + " 0x" + Long.toHexString(v) + " >= p2m_size");
                    }
                    pfns[i] = v;
                }
                emit(new PvUnmappedPfns(pfns));
                tailVcpus = vcpuInfo.onlineVcpus();
                tailVcpuNext = 0;
                nextVcpuRecord();
            }
            case PV_VCPU -> {
                int ctx = extVcpu.size();
                Bytes context = Bytes.of(acc, 0, ctx);
                Bytes ext = extv ? Bytes.of(acc, ctx, LegacyFormat.EXT_VCPU_CONTEXT_SIZE) : null;
                XsaveRecord xs = null;
                if (xsaveLen != 0) {
                    int at = ctx + (extv ? LegacyFormat.EXT_VCPU_CONTEXT_SIZE : 0);
                    long mask = f.getLong(at);
                    long size = f.getLong(at + 8);
                    if (size != xsaveLen - LegacyFormat.XSAVE_RECORD_HEADER) {
                        throw record("vcpu " + tailVcpus[tailVcpuNext] + " XSAVE size " + Long.toUnsignedString(size)
                                + " != xcnt - 16 = " + (xsaveLen - LegacyFormat.XSAVE_RECORD_HEADER));
                    }
                    xs = new XsaveRecord(mask, Arrays.copyOfRange(acc, at + 16, at + 16 + (int) size));
                }
                emit(new PvVcpuRecord(tailVcpus[tailVcpuNext], context, ext, xs));
                tailVcpuNext++;
                nextVcpuRecord();
            }
            case PV_SHARED_INFO -> {
                emit(new PvSharedInfo(Bytes.of(acc, 0, LegacyFormat.SHARED_INFO_SIZE)));
                endCheckpoint();
            }
            case HVM_MAGIC -> {
                emit(new HvmMagicPfns(f.getLong(), f.getLong(), f.getLong()));
                item("HVM_TAIL_CONTEXT", 0, offset);
                expect(State.HVM_CTX_LEN, 4);
            }
            case HVM_CTX_LEN -> {
                long len = f.getInt() & 0xFFFF_FFFFL;
                if (len > limits.maxHvmContextBytes()) {
                    throw fatal("hvm_ctx_len " + len + " exceeds " + limits.maxHvmContextBytes());
                }
                expect(State.HVM_CTX, len);
            }
            case HVM_CTX -> {
                String problem = HvmContext.framingProblem(f);
                if (problem != null) {
                    throw record("HVM context: " + problem);
                }
                emit(new HvmTailContext(Bytes.of(acc, 0, f.remaining())));
                item("QEMU_RECORD", 0, offset);
                expect(State.QEMU_SIG, LegacyFormat.QEMU_SIGNATURE_SIZE);
            }
            case QEMU_SIG -> {
                qemuSignature = QemuSignature.fromBytesOrNull(acc, 0);
                if (qemuSignature == null) {
                    throw fatal("unknown QEMU record signature '" + printable(acc, LegacyFormat.QEMU_SIGNATURE_SIZE) + "'");
                }
                if (qemuSignature.lengthPrefixed()) {
                    expect(State.QEMU_LEN, 4);
                } else {
                    state = State.QEMU_TO_EOF;
                    accLen = 0;
                }
            }
            case QEMU_LEN -> {
                long len = f.getInt() & 0xFFFF_FFFFL;
                if (len > limits.maxQemuRecordBytes()) {
                    throw fatal("QEMU record length " + len + " exceeds " + limits.maxQemuRecordBytes());
                }
                expect(State.QEMU_DATA, len);
            }
            case QEMU_DATA -> {
                emit(new QemuRecord(qemuSignature, Bytes.of(acc, 0, f.remaining())));
                endCheckpoint();
            }
            default -> throw new IllegalStateException("no field handler for " + s);
        }
    }

    private void nextExtBlock() throws StreamException {
        if (extRemaining == 0) {
            if (extVcpu == null) {
                throw record("extended info has no 'vcpu' block");
            }
            item("HEADER", 0, 0);
            expect(State.P2M_FRAMES, LegacyFormat.p2mFrameCount(p2mSize, guestWidth()) * width.bytes());
        } else if (extRemaining < LegacyFormat.EXT_BLOCK_HEADER) {
            throw record(extRemaining + " stray bytes at the end of the extended info");
        } else {
            expect(State.EXT_BLOCK_HEADER, LegacyFormat.EXT_BLOCK_HEADER);
        }
    }

    private static String blockName(int id) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            int c = (id >>> (8 * i)) & 0xFF;
            sb.append(c >= 0x20 && c < 0x7F ? (char) c : '?');
        }
        return sb.toString();
    }

    private static String printable(byte[] b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int c = b[i] & 0xFF;
            sb.append(c >= 0x20 && c < 0x7F ? (char) c : '?');
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ body

    private void startBody() {
        vcpuInfo = null;
        lastCheckpointSeen = false;
        dataEntries = 0;
        compressedScan = formatB ? new CheckpointCompression.Decoder(null) : null;
    }

    private void nextCheckpoint() {
        checkpoint++;
        formatB = formatB || enableCompressionSeen;
        startBody();
    }

    private void nextChunk() throws StreamException {
        expect(State.CHUNK_ID, 4);
    }

    private void chunkId(int id) throws StreamException {
        long start = offset - 4;
        if (id == LegacyFormat.END_OF_BODY) {
            item("END_OF_BODY", 0, start);
            endOfBody();
        } else if (id > 0) {
            item("PAGE_BATCH", id, start);
            if (id > limits.maxBatchEntries()) {
                throw fatal("batch of " + id + " entries exceeds MAX_BATCH_SIZE " + limits.maxBatchEntries());
            }
            batchCount = id;
            expect(State.BATCH_PFNS, (long) id * width.bytes());
        } else {
            ChunkType t = ChunkType.fromCodeOrNull(id);
            if (t == null) {
                item("CHUNK", id, start);
                throw fatal("unknown chunk id " + id);
            }
            item(t.xenName(), id, start);
            chunk = t;
            if (t.isHvmParam()) {
                if (guestType == GuestType.PV) {
                    throw record("HVM-only chunk in a PV stream");
                }
                expect(State.HVM_PARAM, LegacyFormat.HVM_PARAM_PAYLOAD);
                return;
            }
            switch (t) {
                case ENABLE_VERIFY_MODE, LAST_CHECKPOINT -> {
                    if (t == ChunkType.LAST_CHECKPOINT) {
                        lastCheckpointSeen = true;
                    }
                    emit(new Marker(t));
                    nextChunk();
                }
                case ENABLE_COMPRESSION -> {
                    if (checkpoint != 0) {
                        throw record("ENABLE_COMPRESSION after the first checkpoint");
                    }
                    enableCompressionSeen = true;
                    emit(new Marker(t));
                    nextChunk();
                }
                case VCPU_INFO -> expect(State.VCPU_INFO_MAX, 4);
                case TSC_INFO -> expect(State.TSC_INFO, LegacyFormat.TSC_INFO_PAYLOAD);
                case TMEM -> {
                    tmemBytes = 0;
                    expect(State.TMEM_HEADER, LegacyFormat.TMEM_HEADER_PAYLOAD);
                }
                case TMEM_EXTRA -> {
                    tmemBytes = 0;
                    tmemInvalidations = new ArrayList<>();
                    expect(State.TMEM_EXTRA_POOL_ID, 4);
                }
                case COMPRESSED_DATA -> {
                    if (!formatB) {
                        throw record("COMPRESSED_DATA before compression was enabled (Format A checkpoint)");
                    }
                    expect(State.COMPRESSED_LEN, width.bytes());
                }
                case TOOLSTACK -> expect(State.TOOLSTACK_LEN, 4);
                default -> throw new IllegalStateException("unhandled chunk " + t);
            }
        }
    }

    private void batchPfns(ByteBuffer f) throws StreamException {
        int n = batchCount;
        int[] entries = new int[n];
        int distinct = 0;
        for (int i = 0; i < n; i++) {
            long v = ulong(f);
            if ((v >>> 32) != 0) {
                throw record("entry " + i + " 0x" + Long.toHexString(v) + " has bits above 31 set");
            }
            int e = (int) v;
            if (LegacyFormat.isInvalidType(e)) {
                throw record("entry " + i + " has invalid page type 0x" + Integer.toHexString(e >>> 28));
            }
            entries[i] = e;
            if (e == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                continue;
            }
            int pfn = e & LegacyFormat.PFN_MASK;
            if (pfn >= p2mSize) {
                throw record("entry " + i + " pfn 0x" + Integer.toHexString(pfn) + " >= p2m_size 0x"
                        + Long.toHexString(p2mSize));
            }
            pfnScratch[distinct++] = pfn;
        }
        if (distinct == 0) {
            throw record("batch holds only XTAB (0xf0000000) entries");
        }
        Arrays.sort(pfnScratch, 0, distinct);
        for (int i = 1; i < distinct; i++) {
            if (pfnScratch[i] == pfnScratch[i - 1]) {
                throw record("duplicate pfn 0x" + Integer.toHexString(pfnScratch[i]) + " in batch");
            }
        }
        int data = 0;
        for (int e : entries) {
            if (LegacyFormat.hasData(e)) {
                data++;
            }
        }
        dataEntries += data;
        if (formatB) {
            emit(PageBatch.owned(entries, null));
            nextChunk();
        } else if (data == 0) {
            emit(PageBatch.owned(entries, ByteBuffer.allocate(0)));
            nextChunk();
        } else if (pageListener != null) {
            streamedBatch = PageBatch.streamed(entries);
            streamedEntry = -1;
            streamedPagesLeft = data;
            advanceStreamedEntry();
            expect(State.BATCH_PAGES_STREAMED, (long) data * LegacyFormat.PAGE_SIZE);
            pageFill = 0;
            emit(streamedBatch);
        } else {
            batchEntries = entries;
            expect(State.BATCH_PAGES, (long) data * LegacyFormat.PAGE_SIZE);
        }
    }

    private void advanceStreamedEntry() {
        do {
            streamedEntry++;
        } while (streamedEntry < streamedBatch.count() && !streamedBatch.hasData(streamedEntry));
    }

    private void stepStreamedPages(ByteBuffer in) throws StreamException {
        ByteBuffer view;
        if (pageFill == 0 && in.remaining() >= LegacyFormat.PAGE_SIZE) {
            view = in.slice(in.position(), LegacyFormat.PAGE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            in.position(in.position() + LegacyFormat.PAGE_SIZE);
            offset += LegacyFormat.PAGE_SIZE;
        } else {
            int take = Math.min(LegacyFormat.PAGE_SIZE - pageFill, in.remaining());
            pageScratch.put(pageFill, in, in.position(), take);
            in.position(in.position() + take);
            pageFill += take;
            offset += take;
            if (pageFill < LegacyFormat.PAGE_SIZE) {
                return;
            }
            pageFill = 0;
            view = pageScratch.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        }
        PageBatch b = streamedBatch;
        int entry = streamedEntry;
        if (--streamedPagesLeft == 0) {
            streamedBatch = null;
            expect(State.CHUNK_ID, 4);
        } else {
            advanceStreamedEntry();
        }
        pageListener.page(b, entry, view);
    }

    private void stepPages(ByteBuffer in) throws StreamException {
        if (pageFill == 0 && in.remaining() >= need) {
            ByteBuffer view = in.slice(in.position(), need).order(ByteOrder.LITTLE_ENDIAN);
            in.position(in.position() + need);
            offset += need;
            emitBatch(view);
            return;
        }
        if (pageAcc == null || pageAcc.capacity() < need) {
            int cap = Math.max(need, pageAcc == null ? 0 : pageAcc.capacity());
            ByteBuffer grown = ByteBuffer.allocate(cap);
            if (pageAcc != null && pageFill > 0) {
                grown.put(0, pageAcc, 0, pageFill);
            }
            pageAcc = grown;
        }
        int take = Math.min(need - pageFill, in.remaining());
        pageAcc.put(pageFill, in, in.position(), take);
        in.position(in.position() + take);
        pageFill += take;
        offset += take;
        if (pageFill == need) {
            emitBatch(pageAcc.slice(0, need).order(ByteOrder.LITTLE_ENDIAN));
        }
    }

    private void emitBatch(ByteBuffer data) throws StreamException {
        int[] entries = batchEntries;
        batchEntries = null;
        pageFill = 0;
        expect(State.CHUNK_ID, 4);
        emit(PageBatch.owned(entries, data));
    }

    private void endOfBody() throws StreamException {
        if (guestType == GuestType.PV && vcpuInfo == null) {
            throw record("PV body without VCPU_INFO (the tail's vcpu records cannot be framed)");
        }
        if (formatB && (!compressedScan.atPageBoundary() || compressedScan.pagesDecoded() != dataEntries)) {
            throw record("compressed data holds " + compressedScan.pagesDecoded() + " whole pages, "
                    + dataEntries + " data-bearing PFN entries need one each");
        }
        emit(new EndOfBody());
        if (guestType == GuestType.PV) {
            item("PV_TAIL_UNMAPPED_PFNS", 0, offset);
            expect(State.PV_NR_UNMAPPED, 4);
        } else {
            item("HVM_TAIL_MAGIC_PFNS", 0, offset);
            expect(State.HVM_MAGIC, LegacyFormat.HVM_MAGIC_PFNS_SIZE);
        }
    }

    // ------------------------------------------------------------------ tail

    private void nextVcpuRecord() throws StreamException {
        if (tailVcpuNext < tailVcpus.length) {
            item("PV_TAIL_VCPU", tailVcpus[tailVcpuNext], offset);
            expect(State.PV_VCPU, (long) extVcpu.size() + (extv ? LegacyFormat.EXT_VCPU_CONTEXT_SIZE : 0) + xsaveLen);
        } else {
            item("PV_TAIL_SHARED_INFO", 0, offset);
            expect(State.PV_SHARED_INFO, LegacyFormat.SHARED_INFO_SIZE);
        }
    }

    private void endCheckpoint() throws StreamException {
        boolean last = lastCheckpointSeen || !options.checkpointed();
        State next = last ? State.DONE : State.NEXT_CHECKPOINT;
        state = next;
        need = 4;
        accLen = 0;
        item("CHUNK", 0, offset);
        emit(new CheckpointEnd(checkpoint, last));
    }

    private void nextTmemPage() throws StreamException {
        if (tmemPagesLeft == 0) {
            endTmemPool(false);
        } else {
            expect(State.TMEM_OID, LegacyFormat.TMEM_OID_SIZE);
        }
    }

    private void endTmemPool(boolean early) throws StreamException {
        tmemPools.add(new TmemPool(tmemPoolId, tmemFlags, tmemNPages, tmemUuid0, tmemUuid1, tmemPages, early));
        tmemPages = null;
        expect(State.TMEM_POOL_ID, 4);
    }

    // ------------------------------------------------------------------ errors

    private StreamFatalException truncated() {
        long missing = state == State.BATCH_PAGES ? need - pageFill
                : state == State.BATCH_PAGES_STREAMED ? (long) streamedPagesLeft * LegacyFormat.PAGE_SIZE - pageFill
                : need - accLen;
        return new StreamFatalException(itemName, itemCode, itemOffset, "stream truncated at offset " + offset
                + " inside " + state + " (" + missing + " more bytes needed)");
    }

    private StreamFatalException fatal(String problem) {
        return new StreamFatalException(itemName, itemCode, itemOffset, problem);
    }

    private RecordException record(String problem) {
        return new RecordException(itemName, itemCode, itemOffset, problem);
    }
}
