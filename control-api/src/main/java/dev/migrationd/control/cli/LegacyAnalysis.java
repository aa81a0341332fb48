package dev.migrationd.control.cli;

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
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a legacy stream with protocol.legacy's incremental reader into a summary and checks what the reader
 * leaves to the caller: the HVM context structure (with {@link HvmContext#parse}) and bytes after the last
 * checkpoint. The reader runs in checkpointed mode so a Remus stream is read to its end; an ordinary stream
 * ends with LAST_CHECKPOINT or at EOF after its first tail. Offsets count from the start of the legacy stream
 * (StreamAnalyzer turns them into file offsets when a toolstack header comes first).
 */
final class LegacyAnalysis {
    private static final int READ_CHUNK = 1 << 16;

    private final StreamSummary s;
    private final LegacyStreamReader reader;
    /** Reader offset after the previous item: the start of the current one. */
    private long itemStart;
    private RecordException deferred;
    private final List<String> hvmRecords = new ArrayList<>();
    private int vcpuRecords;
    private final PvStateCheck pv = new PvStateCheck("PV_TAIL_VCPU");

    private LegacyAnalysis(StreamFormatDetector.Detected d, StreamSummary s) {
        this.s = s;
        this.reader = new LegacyStreamReader(new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                StreamLimits.DEFAULT), this::accept);
    }

    static void read(Path file, StreamFormatDetector.Detected d, StreamSummary s) throws IOException, StreamException {
        new LegacyAnalysis(d, s).run(file, d.streamStart());
    }

    private void run(Path file, long start) throws IOException, StreamException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            s.totalBytes = ch.size();
            ch.position(start);
            ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
            while (!reader.isComplete()) {
                buf.clear();
                if (ch.read(buf) < 0) {
                    break;
                }
                buf.flip();
                reader.feed(buf);
                throwDeferred();
                if (reader.isComplete() && (buf.hasRemaining() || ch.position() < ch.size())) {
                    long left = buf.remaining() + ch.size() - ch.position();
                    throw new RecordException("TRAILING_DATA", 0, reader.offset(), left
                            + " bytes after the last checkpoint");
                }
            }
            reader.finish();
            throwDeferred();
        }
        if (vcpuRecords > 0) {
            s.tail.put("vcpus", vcpuRecords / Math.max(1, s.checkpoints));
        }
        if (!hvmRecords.isEmpty()) {
            s.tail.put("hvm_context_records", hvmRecords);
        }
        if (pv.overflowed()) {
            s.tail.put("note", "more than " + PvStateCheck.MAX_TRACKED_TABLES + " page tables: CR3 type not checked");
        }
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
            case HvmHeader h -> s.p2mSize = h.p2mSize();
            case PvHeader h -> {
                s.p2mSize = h.p2mSize();
                s.guestWidth = h.guestWidth();
                s.tail.put("extended_vcpu_context", h.extv());
                s.tail.put("xsave_len", h.xsaveLen());
                s.tail.put("p2m_frames", h.p2mFrameCount());
            }
            case PageBatch b -> {
                for (int i = 0; i < b.count(); i++) {
                    s.page(b.type(i), 1);
                    pv.page(b.pfn(i), b.type(i));
                }
            }
            case CheckpointEnd c -> {
                s.checkpoints = c.index() + 1;
                s.endCheckpoint();
            }
            case TscInfoChunk(TscInfo t) -> s.tail.put("tsc", "mode " + t.mode() + ", " + Integer.toUnsignedLong(t.khz())
                    + " kHz, " + t.nsec() + " ns, incarnation " + Integer.toUnsignedLong(t.incarnation()));
            case VcpuInfo v -> s.tail.put("online_vcpus", v.onlineVcpus().length);
            case PvUnmappedPfns u -> s.tail.put("unmapped_pfns", u.count());
            case PvVcpuRecord v -> {
                vcpuRecords++;
                try {
                    pv.vcpu(v.vcpuId(), v.context().toArray(), s.guestWidth, s.p2mSize, start);
                } catch (RecordException e) {
                    deferred = e;
                }
            }
            case PvSharedInfo si -> s.tail.put("shared_info", si.page().size() + " bytes");
            case HvmMagicPfns m -> s.tail.put("magic_pfns", "ioreq 0x" + Long.toHexString(m.ioreqPfn())
                    + ", bufioreq 0x" + Long.toHexString(m.bufioreqPfn()) + ", store 0x" + Long.toHexString(m.storePfn()));
            case HvmTailContext c -> {
                try {
                    // the blob follows the u32 hvm_ctx_len
                    HvmContext ctx = HvmContext.parse(MemorySegment.ofArray(c.blob().toArray()), start + 4);
                    hvmRecords.clear();
                    hvmRecords.add("HEADER");
                    for (HvmContext.Entry e : ctx.entries()) {
                        hvmRecords.add(e.type() + "[" + e.instance() + "]");
                    }
                    hvmRecords.add("END");
                } catch (RecordException e) {
                    deferred = e;
                }
            }
            case QemuRecord q -> {
                byte[] state = q.state().toArray();
                s.tail.put("qemu_record", q.signature().text() + ", " + state.length + " bytes"
                        + (QemuSavevm.hasSavevmHeader(state) ? ", QEVM v3" : ", no QEVM header"));
            }
            default -> {
            }
        }
    }
}
