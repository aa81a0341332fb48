package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.QemuSavevm;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Reads a legacy stream with protocol.legacy's incremental reader into a report and checks what the reader
 * leaves to the caller: the HVM context structure (with {@link HvmContext#parse}), the PV vCPU contexts (with
 * {@link PvStateCheck}) and bytes after the last checkpoint. The reader runs in checkpointed mode so a Remus
 * stream is read to its end; an ordinary stream ends with LAST_CHECKPOINT or at EOF after its first tail.
 * Offsets count from the start of the legacy stream ({@link StreamVerifier} turns them into file offsets when a
 * toolstack header comes first). Owned by the verifying thread.
 */
final class LegacyAnalysis extends StreamAnalysis {

    private final LegacyStreamReader reader;
    /** Reader offset after the previous item: the start of the current one. */
    private long itemStart;
    private RecordException deferred;
    private int vcpuRecords;

    private LegacyAnalysis(DetectedStream d, Report s) {
        super(s, "PV_TAIL_VCPU");
        this.reader = new LegacyStreamReader(new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                StreamLimits.DEFAULT), this::accept);
    }

    /** Reads the legacy stream that {@code in} is positioned at, to its end, into {@code s}. */
    static void read(StreamInput in, DetectedStream d, Report s) throws IOException, StreamException {
        new LegacyAnalysis(d, s).run(in);
    }

    private void run(StreamInput in) throws IOException, StreamException {
        ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
        while (!reader.isComplete()) {
            buf.clear();
            if (in.read(buf) < 0) {
                break;
            }
            buf.flip();
            reader.feed(buf);
            throwDeferred();
            if (reader.isComplete()) {
                long left = buf.remaining() + in.drain();
                if (left > 0) {
                    throw new RecordException("TRAILING_DATA", 0, reader.offset(), left
                            + " bytes after the last checkpoint");
                }
            }
        }
        reader.finish();
        throwDeferred();
        endTail(vcpuRecords > 0 ? vcpuRecords / Math.max(1, s.checkpoints()) : null);
    }

    private void throwDeferred() throws RecordException {
        if (deferred != null) {
            throw deferred;
        }
    }

    /** The reader's consumer: runs inside {@code feed}, on this thread. */
    private void accept(LegacyItem item) {
        long end = reader.offset();
        long bytes = end - itemStart;
        long start = itemStart;
        itemStart = end;
        if (deferred != null) {
            return;
        }
        if (!(item instanceof CheckpointEnd)) {
            s.item(item.itemName(), bytes);
        }
        switch (item) {
            case HvmHeader h -> s.p2mSize(h.p2mSize());
            case PvHeader h -> {
                s.p2mSize(h.p2mSize());
                s.guestWidth(h.guestWidth());
                s.tail("extended_vcpu_context", h.extv());
                s.tail("xsave_len", h.xsaveLen());
                s.tail("p2m_frames", h.p2mFrameCount());
            }
            case PageBatch b -> {
                for (int i = 0; i < b.count(); i++) {
                    s.page(b.type(i), 1);
                    pv.page(b.pfn(i), b.type(i));
                }
            }
            case CheckpointEnd c -> {
                s.checkpoints(c.index() + 1);
                s.endCheckpoint();
            }
            case TscInfoChunk(TscInfo t) -> s.tail("tsc", "mode " + t.mode() + ", " + Integer.toUnsignedLong(t.khz())
                    + " kHz, " + t.nsec() + " ns, incarnation " + Integer.toUnsignedLong(t.incarnation()));
            case VcpuInfo v -> s.tail("online_vcpus", v.onlineVcpus().length);
            case PvUnmappedPfns u -> s.tail("unmapped_pfns", u.count());
            case PvVcpuRecord v -> {
                vcpuRecords++;
                try {
                    pv.vcpu(v.vcpuId(), v.context().toArray(), s.guestWidth(), s.p2mSize().orElse(-1), start);
                } catch (RecordException e) {
                    deferred = e;
                }
            }
            case PvSharedInfo si -> s.tail("shared_info", si.page().size() + " bytes");
            case HvmMagicPfns m -> s.tail("magic_pfns", "ioreq 0x" + Long.toHexString(m.ioreqPfn())
                    + ", bufioreq 0x" + Long.toHexString(m.bufioreqPfn()) + ", store 0x" + Long.toHexString(m.storePfn()));
            case HvmTailContext c -> {
                try {
                    // the blob follows the u32 hvm_ctx_len
                    hvmContext(HvmContext.parse(MemorySegment.ofArray(c.blob().toArray()), start + 4));
                } catch (RecordException e) {
                    deferred = e;
                }
            }
            case QemuRecord q -> {
                byte[] state = q.state().toArray();
                s.tail("qemu_record", q.signature().text() + ", " + state.length + " bytes"
                        + (QemuSavevm.hasSavevmHeader(state) ? ", QEVM v3" : ", no QEVM header"));
            }
            default -> {
            }
        }
    }
}
