package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * Writes a legacy libxc save stream (legacy-stream.md) for a toolstack width W and a guest type, enforcing the
 * writer rules: header first; page batches of 1..1024 entries with distinct PFNs (ignoring XTAB), never only
 * XTAB entries, XTAB written as exactly 0xF0000000, no invalid types 0x5–0x8, PFNs below p2m_size; the chunk
 * order of §6.10 (TMEM before any page, VCPU_INFO always and after the last batch, HVM params in the sender's
 * order and only for HVM, TOOLSTACK, LAST_CHECKPOINT, ENABLE_COMPRESSION, end of body); the tail matching the
 * header and VCPU_INFO; Format B batches and COMPRESSED_DATA after a compressed first checkpoint.
 *
 * <p>A rule violation is a programming error of the caller: {@link IllegalStateException} (wrong order) or
 * {@link IllegalArgumentException} (bad content); nothing is written for the rejected item.
 *
 * <p>Buffers: every header/PFN-array buffer is freshly allocated and handed to the {@link ByteSink}, never
 * touched again; page data goes to the sink as views (see {@link ByteSink} for the ownership contract).
 *
 * <p>Threading: confined to the thread that drives it (a migration's sender thread); not thread-safe.
 */
public final class LegacyStreamWriter {
    private enum Phase { HEADER, BODY, PV_UNMAPPED, PV_VCPUS, PV_SHARED_INFO, HVM_MAGIC, HVM_CONTEXT, HVM_QEMU,
        CHECKPOINT_DONE, CLOSED }

    // body stages (§6.10)
    private static final int PRE_PAGES = 0;
    private static final int PAGES = 1;
    private static final int AFTER_VCPU_INFO = 2;
    private static final int AFTER_TOOLSTACK = 3;
    private static final int AFTER_LAST_CHECKPOINT = 4;
    private static final int AFTER_ENABLE_COMPRESSION = 5;

    private final ByteSink sink;
    private final Width width;
    private final GuestType guestType;
    private final boolean checkpointed;

    private Phase phase = Phase.HEADER;
    private long p2mSize;
    private PvHeader pvHeader;
    private long bytesWritten;

    // per checkpoint
    private int checkpoint;
    private int stage;
    private boolean tscSeen;
    private boolean verifySeen;
    private boolean anyBatch;
    private int lastHvmRank;
    private VcpuInfo vcpuInfo;
    private int[] tailVcpus;
    private int tailVcpuNext;
    private boolean lastCheckpoint;
    private boolean enableCompression;
    private boolean formatB;
    private boolean tmemSeen;
    private long dataEntries;
    private CheckpointCompression.Decoder compressedScan;
    private final int[] pfnScratch = new int[LegacyFormat.MAX_BATCH_SIZE];

    /**
     * @param sink         receives the bytes (see its ownership contract)
     * @param width        the toolstack width W (size of every {@code unsigned long} on the wire)
     * @param guestType    PV or HVM; a PV guest's width follows from the header's vcpu context size
     * @param checkpointed a Remus stream: several checkpoints may follow, LAST_CHECKPOINT ends it
     */
    public LegacyStreamWriter(ByteSink sink, Width width, GuestType guestType, boolean checkpointed) {
        this.sink = Objects.requireNonNull(sink);
        this.width = Objects.requireNonNull(width);
        this.guestType = Objects.requireNonNull(guestType);
        this.checkpointed = checkpointed;
    }

    /** A writer for a single-checkpoint (save or migration) stream. */
    public LegacyStreamWriter(ByteSink sink, Width width, GuestType guestType) {
        this(sink, width, guestType, false);
    }

    public long bytesWritten() {
        return bytesWritten;
    }

    public Width width() {
        return width;
    }

    public GuestType guestType() {
        return guestType;
    }

    /** Index of the current (or, between checkpoints, the last completed) checkpoint, from 0. */
    public int checkpoint() {
        return checkpoint;
    }

    /** Whether the stream is complete (the last checkpoint's tail is written). */
    public boolean isClosed() {
        return phase == Phase.CLOSED;
    }

    /** Whether the stream may end here: after a complete checkpoint. */
    public boolean atCheckpointBoundary() {
        return phase == Phase.CHECKPOINT_DONE || phase == Phase.CLOSED;
    }

    /** Writes any item (dispatch over the sealed model); {@link CheckpointEnd} writes nothing but is checked. */
    public void write(LegacyItem item) throws IOException {
        switch (item) {
            case HvmHeader h -> writeHeader(h);
            case PvHeader h -> writeHeader(h);
            case PageBatch b -> writePageBatch(b);
            case Marker m -> writeMarker(m.type());
            case VcpuInfo v -> writeVcpuInfo(v);
            case HvmParam p -> writeHvmParam(p);
            case TscInfoChunk t -> writeTscInfo(t.tsc());
            case Tmem t -> writeTmem(t);
            case TmemExtra t -> writeTmemExtra(t);
            case CompressedData c -> writeCompressedData(c.data().asByteBuffer());
            case Toolstack t -> writeToolstack(t);
            case EndOfBody e -> writeEndOfBody();
            case PvUnmappedPfns u -> writeUnmappedPfns(u);
            case PvVcpuRecord v -> writeVcpuRecord(v);
            case PvSharedInfo s -> writeSharedInfo(s);
            case HvmMagicPfns m -> writeMagicPfns(m);
            case HvmTailContext c -> writeHvmContext(c);
            case QemuRecord q -> writeQemuRecord(q);
            case CheckpointEnd c -> checkCheckpointEnd(c);
        }
    }

    // ------------------------------------------------------------------ header

    public void writeHeader(HvmHeader h) throws IOException {
        expectPhase(Phase.HEADER, "header");
        require(guestType == GuestType.HVM, "an HVM header for a PV writer");
        requireArg(h.p2mSize() <= LegacyFormat.MAX_P2M_SIZE, "p2m_size too large");
        ByteBuffer b = alloc(width.bytes());
        putUlong(b, h.p2mSize());
        emit(b);
        p2mSize = h.p2mSize();
        startBody();
    }

    public void writeHeader(PvHeader h) throws IOException {
        expectPhase(Phase.HEADER, "header");
        require(guestType == GuestType.PV, "a PV header for an HVM writer");
        for (long f : h.p2mFrames()) {
            requireArg(f >= 0 && f < h.p2mSize(), "p2m frame PFN 0x" + Long.toHexString(f) + " beyond p2m_size");
        }
        int total = h.extInfoTotal();
        ByteBuffer b = alloc(width.bytes() * 2 + 4 + total + h.p2mFrameCount() * width.bytes());
        putUlong(b, h.p2mSize());
        putUlong(b, -1L);
        b.putInt(total);
        b.putInt(LegacyFormat.EXT_BLOCK_VCPU).putInt(h.vcpuContext().size());
        h.vcpuContext().copyTo(b);
        if (h.extv()) {
            b.putInt(LegacyFormat.EXT_BLOCK_EXTV).putInt(0);
        }
        if (h.xsaveLen() != 0) {
            b.putInt(LegacyFormat.EXT_BLOCK_XCNT).putInt(4).putInt(h.xsaveLen());
        }
        for (int i = 0; i < h.p2mFrameCount(); i++) {
            putUlong(b, h.p2mFrame(i));
        }
        emit(b);
        p2mSize = h.p2mSize();
        pvHeader = h;
        startBody();
    }

    // ------------------------------------------------------------------ body

    /**
     * Writes a page batch: count, PFN array (allocated for this call), then the pages as views. In Format B
     * (checkpoints after a compressed first one) the batch must be {@link PageBatch#pfnsOnly()}.
     */
    public void writePageBatch(PageBatch batch) throws IOException {
        expectBody("page batch");
        require(stage <= PAGES, "page batch after VCPU_INFO (§6.10)");
        require(batch.pfnsOnly() == formatB, formatB
                ? "checkpoints after ENABLE_COMPRESSION carry PFN-only batches (Format B)"
                : "a PFN-only batch outside Format B");
        int n = batch.count();
        int distinct = 0;
        for (int i = 0; i < n; i++) {
            int e = batch.entry(i);
            requireArg(!LegacyFormat.isInvalidType(e), "entry " + i + " has invalid page type 0x"
                    + Integer.toHexString(e >>> 28));
            if ((e & LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_MASK) == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                continue; // written as exactly 0xF0000000 below, dropped by the converter
            }
            requireArg((e & LegacyFormat.PFN_MASK) < p2mSize, "entry " + i + " pfn 0x"
                    + Integer.toHexString(e & LegacyFormat.PFN_MASK) + " >= p2m_size 0x" + Long.toHexString(p2mSize));
            pfnScratch[distinct++] = e & LegacyFormat.PFN_MASK;
        }
        requireArg(distinct > 0, "a batch of only XTAB entries must not be written");
        Arrays.sort(pfnScratch, 0, distinct);
        for (int i = 1; i < distinct; i++) {
            requireArg(pfnScratch[i] != pfnScratch[i - 1], "duplicate pfn 0x" + Integer.toHexString(pfnScratch[i])
                    + " in batch");
        }
        ByteBuffer b = alloc(4 + n * width.bytes());
        b.putInt(n);
        for (int i = 0; i < n; i++) {
            int e = batch.entry(i);
            if ((e & LegacyFormat.XEN_DOMCTL_PFINFO_LTAB_MASK) == LegacyFormat.XEN_DOMCTL_PFINFO_XTAB) {
                e = LegacyFormat.XEN_DOMCTL_PFINFO_XTAB;
            }
            putUlong(b, e & 0xFFFF_FFFFL);
        }
        emit(b);
        if (!batch.pfnsOnly()) {
            batch.writePages(countingSink());
        }
        stage = PAGES;
        anyBatch = true;
        dataEntries += batch.dataCount();
    }

    public void writeMarker(ChunkType type) throws IOException {
        expectBody(type.xenName());
        switch (type) {
            case ENABLE_VERIFY_MODE -> {
                require(stage == PAGES && !verifySeen, "ENABLE_VERIFY_MODE comes once, after the final iteration's pages");
                verifySeen = true;
            }
            case LAST_CHECKPOINT -> {
                require(stage == AFTER_VCPU_INFO || stage == AFTER_TOOLSTACK,
                        "LAST_CHECKPOINT comes after VCPU_INFO, HVM params and TOOLSTACK (§6.10)");
                stage = AFTER_LAST_CHECKPOINT;
                lastCheckpoint = true;
            }
            case ENABLE_COMPRESSION -> {
                require(checkpointed && checkpoint == 0, "ENABLE_COMPRESSION belongs to the first checkpoint of a "
                        + "checkpointed stream");
                require(stage == AFTER_VCPU_INFO || stage == AFTER_TOOLSTACK,
                        "ENABLE_COMPRESSION comes after VCPU_INFO, HVM params and TOOLSTACK, without LAST_CHECKPOINT");
                stage = AFTER_ENABLE_COMPRESSION;
                enableCompression = true;
            }
            default -> throw new IllegalArgumentException(type + " has a payload");
        }
        emit(alloc(4).putInt(type.code()));
    }

    public void writeVcpuInfo(VcpuInfo v) throws IOException {
        expectBody("VCPU_INFO");
        require(stage <= PAGES, "VCPU_INFO comes once, after the last page batch (§6.10)");
        if (formatB) {
            require(compressedScan.atPageBoundary() && compressedScan.pagesDecoded() == dataEntries,
                    "compressed data must cover every data-bearing PFN entry before VCPU_INFO");
        }
        ByteBuffer b = alloc(4 + v.payloadSize());
        b.putInt(ChunkType.VCPU_INFO.code()).putInt(v.maxVcpuId());
        for (long w : v.vcpumap()) {
            b.putLong(w);
        }
        emit(b);
        vcpuInfo = v;
        stage = AFTER_VCPU_INFO;
    }

    public void writeHvmParam(HvmParam p) throws IOException {
        expectBody(p.type().xenName());
        require(guestType == GuestType.HVM, "HVM-only chunk " + p.type().xenName() + " in a PV stream");
        require(stage == AFTER_VCPU_INFO, p.type().xenName() + " comes after VCPU_INFO and before TOOLSTACK");
        require(p.type().hvmParamRank() > lastHvmRank, p.type().xenName()
                + " out of the sender's order −14, −3, −15, −16, −17, −4, −8, −10, −11, −19, −20 (or repeated)");
        ByteBuffer b = alloc(16);
        b.putInt(p.type().code()).putInt(0).putLong(p.value());
        emit(b);
        lastHvmRank = p.type().hvmParamRank();
    }

    /** Writes the TSC_INFO chunk (−7) carrying {@code t}. */
    public void writeTscInfo(TscInfo t) throws IOException {
        expectBody("TSC_INFO");
        require(stage <= PAGES && !tscSeen, "TSC_INFO comes once per checkpoint, before VCPU_INFO");
        ByteBuffer b = alloc(4 + LegacyFormat.TSC_INFO_PAYLOAD);
        b.putInt(ChunkType.TSC_INFO.code()).putInt(t.mode()).putLong(t.nsec()).putInt(t.khz())
                .putInt(t.incarnation());
        emit(b);
        tscSeen = true;
    }

    public void writeTmem(Tmem t) throws IOException {
        expectBody("TMEM");
        require(checkpoint == 0 && stage == PRE_PAGES && !anyBatch && !tmemSeen, "TMEM comes before any page");
        long size = 4L + LegacyFormat.TMEM_HEADER_PAYLOAD + 4;
        for (TmemPool p : t.pools()) {
            size += 4 + LegacyFormat.TMEM_POOL_HEADER + (p.earlyEnd() ? LegacyFormat.TMEM_OID_SIZE : 0);
            for (TmemPage pg : p.pages()) {
                size += LegacyFormat.TMEM_OID_SIZE + 4 + pg.data().size();
            }
        }
        requireArg(size <= Integer.MAX_VALUE - 8, "TMEM chunk too large");
        ByteBuffer b = alloc((int) size);
        b.putInt(ChunkType.TMEM.code()).putInt(t.version()).putInt(t.maxPools()).putInt(LegacyFormat.TMEM_END)
                .putInt(t.clientFlags()).putInt(t.weight()).putInt(t.cap()).putInt(LegacyFormat.TMEM_END);
        for (TmemPool p : t.pools()) {
            b.putInt(p.poolId()).putInt(p.flags()).putInt(p.nPages()).putLong(p.uuid0()).putLong(p.uuid1());
            for (TmemPage pg : p.pages()) {
                requireArg(!(pg.oid0() == -1 && pg.oid1() == -1 && pg.oid2() == -1), "an all-ones oid ends a pool");
                b.putLong(pg.oid0()).putLong(pg.oid1()).putLong(pg.oid2()).putInt(pg.index());
                pg.data().copyTo(b);
            }
            if (p.earlyEnd()) {
                b.putLong(-1).putLong(-1).putLong(-1);
            }
        }
        b.putInt(LegacyFormat.TMEM_END);
        emit(b);
        tmemSeen = true;
    }

    public void writeTmemExtra(TmemExtra t) throws IOException {
        expectBody("TMEM_EXTRA");
        require(stage <= PAGES, "TMEM_EXTRA comes before VCPU_INFO");
        ByteBuffer b = alloc(4 + t.invalidations().size() * LegacyFormat.TMEM_EXTRA_RECORD + 4);
        b.putInt(ChunkType.TMEM_EXTRA.code());
        for (TmemInvalidation i : t.invalidations()) {
            b.putInt(i.poolId()).putLong(i.oid0()).putLong(i.oid1()).putLong(i.oid2()).putInt(i.index());
        }
        b.putInt(LegacyFormat.TMEM_END);
        emit(b);
    }

    /**
     * Writes one COMPRESSED_DATA chunk ({@code ulong len} + data) in Format B. The data (the remaining bytes of
     * {@code data}) is the next part of the checkpoint's concatenated page encodings ({@link CheckpointCompression});
     * it is handed to the sink as a view.
     */
    public void writeCompressedData(ByteBuffer data) throws IOException {
        expectBody("COMPRESSED_DATA");
        require(formatB, "COMPRESSED_DATA only in checkpoints after ENABLE_COMPRESSION (Format B)");
        require(stage <= PAGES, "COMPRESSED_DATA comes before VCPU_INFO");
        try {
            compressedScan.feed(data.duplicate(), dataEntries);
        } catch (RecordException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        ByteBuffer b = alloc(4 + width.bytes());
        b.putInt(ChunkType.COMPRESSED_DATA.code());
        putUlong(b, data.remaining());
        emit(b);
        if (data.hasRemaining()) {
            bytesWritten += data.remaining();
            sink.write(data.duplicate());
        }
    }

    public void writeToolstack(Toolstack t) throws IOException {
        expectBody("TOOLSTACK");
        require(stage == AFTER_VCPU_INFO, "TOOLSTACK comes once, after VCPU_INFO and the HVM params (§6.10)");
        ByteBuffer b = alloc(8 + t.data().size());
        b.putInt(ChunkType.TOOLSTACK.code()).putInt(t.data().size());
        t.data().copyTo(b);
        emit(b);
        stage = AFTER_TOOLSTACK;
    }

    public void writeEndOfBody() throws IOException {
        expectBody("end of body");
        require(stage >= AFTER_VCPU_INFO, "VCPU_INFO must be sent in every checkpoint (§6.2)");
        emit(alloc(4).putInt(LegacyFormat.END_OF_BODY));
        if (guestType == GuestType.PV) {
            tailVcpus = vcpuInfo.onlineVcpus();
            tailVcpuNext = 0;
            phase = Phase.PV_UNMAPPED;
        } else {
            phase = Phase.HVM_MAGIC;
        }
    }

    // ------------------------------------------------------------------ PV tail

    public void writeUnmappedPfns(PvUnmappedPfns u) throws IOException {
        expectPhase(Phase.PV_UNMAPPED, "unmapped PFN list");
        long[] pfns = u.pfns();
        ByteBuffer b = alloc(4 + pfns.length * width.bytes());
        b.putInt(pfns.length);
        for (long p : pfns) {
            requireArg(p >= 0 && p < p2mSize, "unmapped pfn 0x" + Long.toHexString(p) + " beyond p2m_size");
            putUlong(b, p);
        }
        emit(b);
        phase = tailVcpus.length == 0 ? Phase.PV_SHARED_INFO : Phase.PV_VCPUS;
    }

    public void writeVcpuRecord(PvVcpuRecord v) throws IOException {
        expectPhase(Phase.PV_VCPUS, "vcpu record");
        requireArg(v.vcpuId() == tailVcpus[tailVcpuNext], "expected the record of vcpu " + tailVcpus[tailVcpuNext]
                + " (VCPU_INFO order), got " + v.vcpuId());
        requireArg(v.context().size() == pvHeader.vcpuContext().size(), "vcpu context must be 0x"
                + Integer.toHexString(pvHeader.vcpuContext().size()) + " bytes like the header's");
        requireArg((v.extContext() != null) == pvHeader.extv(), "extended context present iff the header has extv");
        requireArg((v.xsave() != null) == (pvHeader.xsaveLen() != 0), "XSAVE record present iff the header has xcnt");
        if (v.xsave() != null) {
            requireArg(v.xsave().xsaveLen() == pvHeader.xsaveLen(), "XSAVE record must be exactly xcnt = "
                    + pvHeader.xsaveLen() + " bytes");
        }
        int size = v.context().size() + (v.extContext() != null ? 128 : 0)
                + (v.xsave() != null ? v.xsave().xsaveLen() : 0);
        ByteBuffer b = alloc(size);
        v.context().copyTo(b);
        if (v.extContext() != null) {
            v.extContext().copyTo(b);
        }
        if (v.xsave() != null) {
            b.put(v.xsave().encode());
        }
        emit(b);
        if (++tailVcpuNext == tailVcpus.length) {
            phase = Phase.PV_SHARED_INFO;
        }
    }

    public void writeSharedInfo(PvSharedInfo s) throws IOException {
        expectPhase(Phase.PV_SHARED_INFO, "shared info");
        ByteBuffer b = alloc(LegacyFormat.SHARED_INFO_SIZE);
        s.page().copyTo(b);
        emit(b);
        endCheckpoint();
    }

    // ------------------------------------------------------------------ HVM tail

    public void writeMagicPfns(HvmMagicPfns m) throws IOException {
        expectPhase(Phase.HVM_MAGIC, "magic PFNs");
        ByteBuffer b = alloc(LegacyFormat.HVM_MAGIC_PFNS_SIZE);
        b.putLong(m.ioreqPfn()).putLong(m.bufioreqPfn()).putLong(m.storePfn());
        emit(b);
        phase = Phase.HVM_CONTEXT;
    }

    public void writeHvmContext(HvmTailContext c) throws IOException {
        expectPhase(Phase.HVM_CONTEXT, "HVM context");
        String problem = HvmContext.framingProblem(c.blob().asByteBuffer());
        requireArg(problem == null, "HVM context: " + problem);
        ByteBuffer b = alloc(4 + c.blob().size());
        b.putInt(c.blob().size());
        c.blob().copyTo(b);
        emit(b);
        phase = Phase.HVM_QEMU;
    }

    public void writeQemuRecord(QemuRecord q) throws IOException {
        expectPhase(Phase.HVM_QEMU, "QEMU record");
        boolean toEof = !q.signature().lengthPrefixed();
        if (toEof) {
            require(!checkpointed, "a QemuDeviceModelRecord runs to the end of the stream: not in a checkpointed one");
            requireArg(q.state().size() >= 4 && q.state().asByteBuffer().order(ByteOrder.BIG_ENDIAN).getInt(0)
                    == LegacyFormat.QEMU_VM_FILE_MAGIC, "QemuDeviceModelRecord state must start with \"QEVM\"");
        }
        ByteBuffer b = alloc(LegacyFormat.QEMU_SIGNATURE_SIZE + (toEof ? 0 : 4) + q.state().size());
        b.put(q.signature().bytes());
        if (!toEof) {
            b.putInt(q.state().size());
        }
        q.state().copyTo(b);
        emit(b);
        if (toEof) {
            lastCheckpoint = true;
        }
        endCheckpoint();
    }

    /** Checks that {@code c} describes the checkpoint just completed; writes nothing. */
    public void checkCheckpointEnd(CheckpointEnd c) {
        require(atCheckpointBoundary() && c.index() == checkpoint, "CheckpointEnd " + c.index()
                + " does not follow the tail of checkpoint " + checkpoint);
        require(c.last() == (phase == Phase.CLOSED), "CheckpointEnd.last=" + c.last() + " but the stream is "
                + (phase == Phase.CLOSED ? "" : "not ") + "complete");
    }

    // ------------------------------------------------------------------ internals

    private void endCheckpoint() {
        if (!checkpointed || lastCheckpoint) {
            phase = Phase.CLOSED;
        } else {
            phase = Phase.CHECKPOINT_DONE;
        }
    }

    private void startBody() {
        phase = Phase.BODY;
        stage = PRE_PAGES;
        tscSeen = false;
        verifySeen = false;
        anyBatch = false;
        lastHvmRank = -1;
        vcpuInfo = null;
        lastCheckpoint = false;
        dataEntries = 0;
        compressedScan = formatB ? new CheckpointCompression.Decoder(null) : null;
    }

    private void expectBody(String what) {
        if (phase == Phase.CHECKPOINT_DONE) {
            checkpoint++;
            formatB = formatB || enableCompression;
            enableCompression = false;
            startBody();
        }
        expectPhase(Phase.BODY, what);
    }

    private void expectPhase(Phase p, String what) {
        if (phase != p) {
            throw new IllegalStateException("cannot write " + what + " now: the stream is at " + phase
                    + (phase == Phase.CLOSED ? " (complete)" : ""));
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalStateException(message);
        }
    }

    private static void requireArg(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    private static ByteBuffer alloc(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private void putUlong(ByteBuffer b, long v) {
        if (width == Width.W64) {
            b.putLong(v);
        } else {
            requireArg(v >= -1 && v <= 0xFFFF_FFFFL, "value 0x" + Long.toHexString(v) + " does not fit a 32-bit ulong");
            b.putInt((int) v);
        }
    }

    private void emit(ByteBuffer b) throws IOException {
        b.flip();
        bytesWritten += b.remaining();
        sink.write(b);
    }

    private ByteSink countingSink() {
        return buf -> {
            bytesWritten += buf.remaining();
            sink.write(buf);
        };
    }
}
