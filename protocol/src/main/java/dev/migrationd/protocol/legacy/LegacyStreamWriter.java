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
import java.util.Objects;

/**
 * Writes a legacy libxc save stream (docs/wire-format-legacy.md) for a toolstack width W and a guest type, enforcing
 * the writer rules: header first; page batches of 1..1024 entries with distinct PFNs (ignoring XTAB), never only
 * XTAB entries, XTAB written as exactly 0xF0000000, no invalid types 0x5–0x8, PFNs below p2m_size; the chunk
 * order of §6.10 (TMEM before any page, VCPU_INFO always and after the last batch, HVM params in the sender's
 * order and only for HVM, TOOLSTACK, LAST_CHECKPOINT, ENABLE_COMPRESSION, end of body); the tail matching the
 * header and VCPU_INFO; Format B batches and COMPRESSED_DATA after a compressed first checkpoint.
 *
 * <p>Writing is "check the rules, then let the item write itself" ({@link LegacyItem#write}). A rule violation is
 * a programming error of the caller: {@link IllegalStateException} (wrong order) or {@link IllegalArgumentException}
 * (bad content); nothing is written for the rejected item.
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
    private final ByteSink counted = this::count;
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

    /**
     * Writes any item: checks that it may come now and fits what came before, then the item writes itself.
     * {@link CheckpointEnd} writes nothing but is checked against the checkpoint just completed.
     */
    public void write(LegacyItem item) throws IOException {
        switch (item) {
            case HvmHeader h -> {
                expectPhase(Phase.HEADER, "header");
                require(guestType == GuestType.HVM, "an HVM header for a PV writer");
                requireArg(h.p2mSize() <= LegacyFormat.MAX_P2M_SIZE, "p2m_size too large");
                send(h);
                p2mSize = h.p2mSize();
                startBody();
            }
            case PvHeader h -> {
                expectPhase(Phase.HEADER, "header");
                require(guestType == GuestType.PV, "a PV header for an HVM writer");
                // Xen's converter needs the block (it gives X86_PV_INFO); only images older than Xen 3.0 lack it
                requireArg(h.vcpuContext() != null, "a PV header without the 'vcpu' extended-info block");
                for (long f : h.p2mFrames()) {
                    requireArg(f >= 0 && f < h.p2mSize(), "p2m frame PFN 0x" + Long.toHexString(f) + " beyond p2m_size");
                }
                send(h);
                p2mSize = h.p2mSize();
                pvHeader = h;
                startBody();
            }
            case PageBatch b -> pageBatch(b);
            case Marker m -> marker(m);
            case VcpuInfo v -> {
                expectBody("VCPU_INFO");
                require(stage <= PAGES, "VCPU_INFO comes once, after the last page batch (§6.10)");
                if (formatB) {
                    require(compressedScan.atPageBoundary() && compressedScan.pagesDecoded() == dataEntries,
                            "compressed data must cover every data-bearing PFN entry before VCPU_INFO");
                }
                send(v);
                vcpuInfo = v;
                stage = AFTER_VCPU_INFO;
            }
            case HvmParam p -> {
                String name = p.type().xenName();
                expectBody(name);
                require(guestType == GuestType.HVM, "HVM-only chunk " + name + " in a PV stream");
                require(stage == AFTER_VCPU_INFO, name + " comes after VCPU_INFO and before TOOLSTACK");
                require(p.type().hvmParamRank() > lastHvmRank, name
                        + " out of the sender's order −14, −3, −15, −16, −17, −4, −8, −10, −11, −19, −20 (or repeated)");
                send(p);
                lastHvmRank = p.type().hvmParamRank();
            }
            case TscInfoChunk t -> {
                expectBody("TSC_INFO");
                require(stage <= PAGES && !tscSeen, "TSC_INFO comes once per checkpoint, before VCPU_INFO");
                send(t);
                tscSeen = true;
            }
            case Tmem t -> {
                expectBody("TMEM");
                require(checkpoint == 0 && stage == PRE_PAGES && !anyBatch && !tmemSeen, "TMEM comes before any page");
                send(t);
                tmemSeen = true;
            }
            case TmemExtra t -> {
                expectBody("TMEM_EXTRA");
                require(stage <= PAGES, "TMEM_EXTRA comes before VCPU_INFO");
                send(t);
            }
            case CompressedData c -> writeCompressedData(c.data().asByteBuffer());
            case Toolstack t -> {
                expectBody("TOOLSTACK");
                require(stage == AFTER_VCPU_INFO, "TOOLSTACK comes once, after VCPU_INFO and the HVM params (§6.10)");
                send(t);
                stage = AFTER_TOOLSTACK;
            }
            case EndOfBody e -> endOfBody(e);
            case PvUnmappedPfns u -> {
                expectPhase(Phase.PV_UNMAPPED, "unmapped PFN list");
                for (long p : u.pfns()) {
                    requireArg(p >= 0 && p < p2mSize, "unmapped pfn 0x" + Long.toHexString(p) + " beyond p2m_size");
                }
                send(u);
                phase = tailVcpus.length == 0 ? Phase.PV_SHARED_INFO : Phase.PV_VCPUS;
            }
            case PvVcpuRecord v -> vcpuRecord(v);
            case PvSharedInfo s -> {
                expectPhase(Phase.PV_SHARED_INFO, "shared info");
                send(s);
                endCheckpoint();
            }
            case HvmMagicPfns m -> {
                expectPhase(Phase.HVM_MAGIC, "magic PFNs");
                send(m);
                phase = Phase.HVM_CONTEXT;
            }
            case HvmTailContext c -> {
                expectPhase(Phase.HVM_CONTEXT, "HVM context");
                String problem = HvmContext.framingProblem(c.blob().asByteBuffer());
                requireArg(problem == null, "HVM context: " + problem);
                send(c);
                phase = Phase.HVM_QEMU;
            }
            case QemuRecord q -> qemuRecord(q);
            case CheckpointEnd c -> {
                require(atCheckpointBoundary() && c.index() == checkpoint, "CheckpointEnd " + c.index()
                        + " does not follow the tail of checkpoint " + checkpoint);
                require(c.last() == (phase == Phase.CLOSED), "CheckpointEnd.last=" + c.last() + " but the stream is "
                        + (phase == Phase.CLOSED ? "" : "not ") + "complete");
            }
        }
    }

    // ------------------------------------------------------------------ what is written without an item at hand

    /** Writes a chunk without payload: ENABLE_VERIFY_MODE, LAST_CHECKPOINT or ENABLE_COMPRESSION. */
    public void writeMarker(ChunkType type) throws IOException {
        expectBody(type.xenName());
        write(new Marker(type));
    }

    /** Writes the TSC_INFO chunk (−7) carrying {@code t}. */
    public void writeTscInfo(TscInfo t) throws IOException {
        write(new TscInfoChunk(t));
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
        CompressedData.write(counted, width, data);
    }

    /** Writes the end-of-body marker (i32 0). */
    public void writeEndOfBody() throws IOException {
        write(new EndOfBody());
    }

    // ------------------------------------------------------------------ the rules of the longer items

    private void pageBatch(PageBatch batch) throws IOException {
        expectBody("page batch");
        require(stage <= PAGES, "page batch after VCPU_INFO (§6.10)");
        require(batch.pfnsOnly() == formatB, formatB
                ? "checkpoints after ENABLE_COMPRESSION carry PFN-only batches (Format B)"
                : "a PFN-only batch outside Format B");
        batch.checkWritable(p2mSize, pfnScratch);
        send(batch);
        stage = PAGES;
        anyBatch = true;
        dataEntries += batch.dataCount();
    }

    private void marker(Marker m) throws IOException {
        expectBody(m.type().xenName());
        switch (m.type()) {
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
            default -> {
                require(checkpointed && checkpoint == 0, "ENABLE_COMPRESSION belongs to the first checkpoint of a "
                        + "checkpointed stream");
                require(stage == AFTER_VCPU_INFO || stage == AFTER_TOOLSTACK,
                        "ENABLE_COMPRESSION comes after VCPU_INFO, HVM params and TOOLSTACK, without LAST_CHECKPOINT");
                stage = AFTER_ENABLE_COMPRESSION;
                enableCompression = true;
            }
        }
        send(m);
    }

    private void endOfBody(EndOfBody e) throws IOException {
        expectBody("end of body");
        require(stage >= AFTER_VCPU_INFO, "VCPU_INFO must be sent in every checkpoint (§6.2)");
        send(e);
        if (guestType == GuestType.PV) {
            tailVcpus = vcpuInfo.onlineVcpus();
            tailVcpuNext = 0;
            phase = Phase.PV_UNMAPPED;
        } else {
            phase = Phase.HVM_MAGIC;
        }
    }

    private void vcpuRecord(PvVcpuRecord v) throws IOException {
        expectPhase(Phase.PV_VCPUS, "vcpu record");
        requireArg(v.vcpuId() == tailVcpus[tailVcpuNext], "expected the record of vcpu " + tailVcpus[tailVcpuNext]
                + " (VCPU_INFO order), got " + v.vcpuId());
        requireArg(v.context().size() == pvHeader.vcpuContextSize(), "vcpu context must be 0x"
                + Integer.toHexString(pvHeader.vcpuContextSize()) + " bytes like the header's");
        requireArg((v.extContext() != null) == pvHeader.extv(), "extended context present iff the header has extv");
        requireArg((v.xsave() != null) == (pvHeader.xsaveLen() != 0), "XSAVE record present iff the header has xcnt");
        if (v.xsave() != null) {
            requireArg(v.xsave().xsaveLen() == pvHeader.xsaveLen(), "XSAVE record must be exactly xcnt = "
                    + pvHeader.xsaveLen() + " bytes");
        }
        send(v);
        if (++tailVcpuNext == tailVcpus.length) {
            phase = Phase.PV_SHARED_INFO;
        }
    }

    private void qemuRecord(QemuRecord q) throws IOException {
        expectPhase(Phase.HVM_QEMU, "QEMU record");
        boolean toEof = !q.signature().lengthPrefixed();
        if (toEof) {
            require(!checkpointed, "a QemuDeviceModelRecord runs to the end of the stream: not in a checkpointed one");
            requireArg(q.state().size() >= 4 && q.state().asByteBuffer().order(ByteOrder.BIG_ENDIAN).getInt(0)
                    == LegacyFormat.QEMU_VM_FILE_MAGIC, "QemuDeviceModelRecord state must start with \"QEVM\"");
        }
        send(q);
        if (toEof) {
            lastCheckpoint = true;
        }
        endCheckpoint();
    }

    // ------------------------------------------------------------------ internals

    private void send(LegacyItem item) throws IOException {
        item.write(counted, width);
    }

    private void count(ByteBuffer b) throws IOException {
        bytesWritten += b.remaining();
        sink.write(b);
    }

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
}
