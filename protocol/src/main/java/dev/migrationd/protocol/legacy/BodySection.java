package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.StreamException;
import java.nio.ByteBuffer;

/**
 * The body of each checkpoint (docs/wire-format-legacy.md §4–§6, §9, §11): a chunk id, then a page batch or a metadata
 * chunk read by its record, until the end-of-body marker hands over to the {@link TailSection}; the tail's end
 * closes the checkpoint. Keeps what spans chunks: the checkpoint count, Format B after ENABLE_COMPRESSION and its
 * compressed-page accounting, VCPU_INFO for the PV tail, LAST_CHECKPOINT. A PV body without VCPU_INFO gets
 * libxc's choice (the previous checkpoint's, else vCPU 0 alone), delivered as a VCPU_INFO item just before END_OF_BODY; an HVM-only chunk in a PV
 * body is read and dropped; both with a warning.
 */
final class BodySection {
    private final Framer in;
    private final boolean checkpointed;
    private final BatchPages pages;
    private final int[] pfnScratch = new int[LegacyFormat.MAX_BATCH_SIZE];
    private final Framer.Field chunkId = this::chunkId;
    private final Framer.Field firstChunkId = this::firstChunkId;
    private final Framer.Then<LegacyItem> thenNext = this::emitAndNext;

    private long p2mSize;
    private boolean pv;
    private TailSection tail;

    // the stream
    private int checkpoint;
    private boolean formatB;
    private boolean enableCompressionSeen;
    private VcpuInfo previousVcpuInfo;

    // the checkpoint
    private boolean lastCheckpointSeen;
    private VcpuInfo vcpuInfo;
    private long dataEntries;
    private CheckpointCompression.Decoder compressedScan;

    BodySection(Framer in, boolean checkpointed, LegacyStreamReader.PageListener listener) {
        this.in = in;
        this.checkpointed = checkpointed;
        this.pages = new BatchPages(in, this, listener);
    }

    /** The header is read: the first checkpoint's body follows. */
    void begin(HvmHeader h) throws StreamException {
        p2mSize = h.p2mSize();
        tail = new TailSection.Hvm(in, this);
        startCheckpoint();
        next();
    }

    /** The header is read: the first checkpoint's body follows. */
    void begin(PvHeader h) throws StreamException {
        p2mSize = h.p2mSize();
        pv = true;
        tail = new TailSection.Pv(in, this, h);
        startCheckpoint();
        next();
    }

    /** Index of the checkpoint being read (from 0). */
    int checkpoint() {
        return checkpoint;
    }

    /** Next: a chunk id. */
    void next() throws StreamException {
        in.field("CHUNK_ID", 4, chunkId);
    }

    /** The tail ended with a QEMU record running to the end of the stream: this checkpoint is the last. */
    void lastCheckpoint() {
        lastCheckpointSeen = true;
    }

    /** The tail is read: emits the checkpoint's end, then the next checkpoint may follow, or the stream is over. */
    void endCheckpoint() throws StreamException {
        boolean last = lastCheckpointSeen || !checkpointed;
        if (last) {
            in.end();
        } else {
            in.fieldOrEnd("NEXT_CHECKPOINT", 4, firstChunkId);
        }
        in.item("CHUNK", 0, in.offset());
        in.emit(new CheckpointEnd(checkpoint, last));
    }

    private void chunkId(ByteBuffer f) throws StreamException {
        chunk(f.getInt());
    }

    /** The first chunk id of a checkpoint after the first. */
    private void firstChunkId(ByteBuffer f) throws StreamException {
        nextCheckpoint();
        chunk(f.getInt());
    }

    private void emitAndNext(LegacyItem item) throws StreamException {
        in.emit(item);
        next();
    }

    private void startCheckpoint() {
        vcpuInfo = null;
        lastCheckpointSeen = false;
        dataEntries = 0;
        compressedScan = formatB ? new CheckpointCompression.Decoder(null) : null;
    }

    private void nextCheckpoint() {
        checkpoint++;
        formatB = formatB || enableCompressionSeen;
        startCheckpoint();
    }

    private void chunk(int id) throws StreamException {
        long start = in.offset() - 4;
        if (id == LegacyFormat.END_OF_BODY) {
            in.item("END_OF_BODY", 0, start);
            endOfBody();
        } else if (id > 0) {
            in.item("PAGE_BATCH", id, start);
            if (id > in.limits().maxBatchEntries()) {
                throw in.fatal("batch of " + id + " entries exceeds MAX_BATCH_SIZE " + in.limits().maxBatchEntries());
            }
            in.field("BATCH_PFNS", (long) id * in.width().bytes(), f -> batch(id, f));
        } else {
            ChunkType t = ChunkType.fromCodeOrNull(id);
            if (t == null) {
                in.item("CHUNK", id, start);
                throw in.fatal("unknown chunk id " + id);
            }
            in.item(t.xenName(), id, start);
            metadata(t);
        }
    }

    private void metadata(ChunkType t) throws StreamException {
        if (t.isHvmParam()) {
            if (pv) {
                // libxc reads it and sets the param on the PV domain, which fails unchecked: it has no effect
                HvmParam.read(in, t, p -> {
                    in.warn(LegacyStreamReader.Leniency.HVM_CHUNK_IN_PV, "HVM-only chunk in a PV stream (value 0x"
                            + Long.toHexString(p.value()) + ") read and ignored");
                    next();
                });
            } else {
                HvmParam.read(in, t, thenNext);
            }
            return;
        }
        switch (t) {
            case ENABLE_VERIFY_MODE -> thenNext.accept(new Marker(t));
            case LAST_CHECKPOINT -> {
                lastCheckpointSeen = true;
                thenNext.accept(new Marker(t));
            }
            case ENABLE_COMPRESSION -> {
                if (checkpoint != 0) {
                    throw in.record("ENABLE_COMPRESSION after the first checkpoint");
                }
                enableCompressionSeen = true;
                thenNext.accept(new Marker(t));
            }
            case VCPU_INFO -> VcpuInfo.read(in, v -> {
                vcpuInfo = v;
                thenNext.accept(v);
            });
            case TSC_INFO -> TscInfoChunk.read(in, thenNext);
            case TMEM -> Tmem.read(in, thenNext);
            case TMEM_EXTRA -> TmemExtra.read(in, thenNext);
            case COMPRESSED_DATA -> {
                if (!formatB) {
                    throw in.record("COMPRESSED_DATA before compression was enabled (Format A checkpoint)");
                }
                CompressedData.read(in, compressedScan, dataEntries, thenNext);
            }
            case TOOLSTACK -> Toolstack.read(in, thenNext);
            default -> throw new IllegalStateException("unhandled chunk " + t);
        }
    }

    private void batch(int count, ByteBuffer f) throws StreamException {
        int[] entries = PageBatch.readEntries(in, f, count, p2mSize, pfnScratch);
        int data = 0;
        for (int e : entries) {
            if (LegacyFormat.hasData(e)) {
                data++;
            }
        }
        dataEntries += data;
        if (formatB) {
            thenNext.accept(PageBatch.owned(entries, null));
        } else if (data == 0) {
            thenNext.accept(PageBatch.owned(entries, ByteBuffer.allocate(0)));
        } else {
            pages.expect(entries, data);
        }
    }

    private void endOfBody() throws StreamException {
        if (pv && vcpuInfo == null) {
            // libxc keeps the last VCPU_INFO it read, else its default (vcpumap {1}, max_vcpu_id 0)
            vcpuInfo = previousVcpuInfo != null ? previousVcpuInfo : VcpuInfo.ofOnline(0);
            in.warn(LegacyStreamReader.Leniency.NO_VCPU_INFO, "PV body without VCPU_INFO: "
                    + (previousVcpuInfo != null ? "the previous checkpoint's online vCPUs kept, as libxc does"
                    : "vCPU 0 alone is online, as libxc assumes"));
            in.emit(vcpuInfo);
        }
        previousVcpuInfo = vcpuInfo;
        if (formatB && (!compressedScan.atPageBoundary() || compressedScan.pagesDecoded() != dataEntries)) {
            throw in.record("compressed data holds " + compressedScan.pagesDecoded() + " whole pages, "
                    + dataEntries + " data-bearing PFN entries need one each");
        }
        in.emit(new EndOfBody());
        tail.begin(vcpuInfo);
    }
}
