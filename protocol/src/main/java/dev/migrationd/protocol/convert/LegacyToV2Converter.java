package dev.migrationd.protocol.convert;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.CheckpointEnd;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.CompressedData;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.Tmem;
import dev.migrationd.protocol.legacy.TmemExtra;
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.EmulatorRecord;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlRecordType;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.V2Format;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts legacy items ({@link LegacyItem}, in stream order) into a v2 stream, in process, following
 * {@code convert-legacy-stream} (docs/wire-format-v2.md §5) record for record, with two additions that keep what Xen's
 * converter drops:
 * <ul>
 *   <li><b>Every checkpoint.</b> A checkpoint that is not the last ends with the libxc CHECKPOINT record (and,
 *       for the libxl format, that checkpoint's emulator records and CHECKPOINT_END) instead of END; the next
 *       checkpoint's records follow. A stream that ends after such a checkpoint (Remus failover) ends with
 *       END (and libxl END) written by {@link #finish()}.</li>
 *   <li><b>The PV tail's unmapped PFNs</b> become PAGE_DATA records of XTAB entries carrying their PFNs
 *       (batches of up to 1024), written where the tail starts, before the vCPU records.</li>
 * </ul>
 * For the libxc format, the QEMU record is copied raw after END as Xen does ({@code DeviceModelRecord0002},
 * u32 length, state); with checkpoints only the last state is kept (each is a full device state). Unlike Xen, the
 * xend and Remus QEMU signatures are accepted too. TMEM, TMEM_EXTRA and compressed checkpoints have no v2
 * equivalent and are rejected ({@link RecordException}), as are page types 5–8 and duplicate PFNs in a batch.
 *
 * <p>Page data goes to the sink as views of the items' pages (no copies). Pages of a reader's PageBatch are valid
 * only while the reader's callback runs, so either the sink consumes synchronously or {@link Options#detachPages()}
 * is set. Errors carry the legacy item's name and the offset set by {@link #setSourceOffset}.
 *
 * <p>Not thread-safe: one thread drives a converter.
 */
public final class LegacyToV2Converter {

    /** Output format, as {@code convert-legacy-stream -f}. */
    public enum Format { LIBXC, LIBXL }

    /**
     * @param format         libxc (bare) or libxl (wrapped) output
     * @param toolstackWidth the legacy toolstack's width W (needed to parse libxl's TOOLSTACK physmap)
     * @param skipQemu       libxc format: do not copy the QEMU record after END ({@code --skip-qemu}); libxl
     *                       format: write no EMULATOR_CONTEXT record (a PVH guest has no device model, and
     *                       libxl's restore of a PVH domain refuses an emulator record)
     * @param detachPages    copy each batch's pages before writing (for a sink that writes asynchronously)
     */
    public record Options(Format format, Width toolstackWidth, boolean skipQemu, boolean detachPages) {
        public Options {
            if (format == null || toolstackWidth == null) {
                throw new IllegalArgumentException("format and toolstack width are required");
            }
        }

        public static Options of(Format format, Width toolstackWidth) {
            return new Options(format, toolstackWidth, false, false);
        }
    }

    /** {@code convert-legacy-stream}'s signature for the raw QEMU record after a libxc END. */
    static final byte[] QEMU_SIGNATURE = QemuSignature.DEVICE_MODEL_RECORD_0002.bytes();
    /** Bound of the xenstore pairs collected from TOOLSTACK chunks in one checkpoint. */
    static final int MAX_XENSTORE_BYTES = 1 << 20;

    private final Options options;
    private final ByteSink sink;
    private final LibxlWriter libxl;
    private final LibxcWriter libxc;

    private GuestType guest;
    private boolean ended;
    private int checkpointsDone;
    private int[] onlineVcpus = {};
    private final List<HvmParams.Param> hvmParams = new ArrayList<>();
    private final ByteArrayOutputStream xenstore = new ByteArrayOutputStream();
    private QemuRecord qemu;
    private long sourceOffset;

    public LegacyToV2Converter(Options options, ByteSink sink) {
        this.options = options;
        this.sink = sink;
        if (options.format() == Format.LIBXL) {
            this.libxl = new LibxlWriter(sink);
            this.libxc = libxl.libxc();
        } else {
            this.libxl = null;
            this.libxc = new LibxcWriter(sink);
        }
    }

    /** The legacy stream offset reported in errors about the next item (the pipeline sets it). */
    public void setSourceOffset(long offset) {
        this.sourceOffset = offset;
    }

    /** Checkpoints converted so far. */
    public int checkpoints() {
        return checkpointsDone;
    }

    /** Whether the output is complete (END written). */
    public boolean isEnded() {
        return ended;
    }

    /** Converts one legacy item. */
    public void accept(LegacyItem item) throws IOException, StreamException {
        if (ended) {
            throw bad(item, 0, "item after the last checkpoint");
        }
        if (guest == null && !(item instanceof HvmHeader) && !(item instanceof PvHeader)) {
            throw bad(item, 0, "item before the stream header");
        }
        try {
            convert(item);
        } catch (IllegalArgumentException e) {
            // a value the v2 model cannot hold (the record constructors validate): a record error, not a crash
            throw bad(item, 0, e.getMessage());
        }
    }

    private void convert(LegacyItem item) throws IOException, StreamException {
        switch (item) {
            case HvmHeader h -> begin(GuestType.HVM);
            case PvHeader h -> {
                begin(GuestType.PV);
                libxc.write(h.guestWidth() == Width.W64 ? X86PvInfo.GUEST_64 : X86PvInfo.GUEST_32);
                libxc.write(SignalRecord.STATIC_DATA_END);
                libxc.write(new X86PvP2mFrames(0, h.p2mSize() - 1, h.p2mFrames()));
            }
            case PageBatch b -> pageBatch(b);
            case Marker m -> {
                if (m.type() == ChunkType.ENABLE_COMPRESSION) {
                    throw bad(item, m.type().code(), "checkpoint compression has no v2 equivalent");
                }
                // ENABLE_VERIFY_MODE, LAST_CHECKPOINT: nothing (as convert-legacy-stream)
            }
            case VcpuInfo v -> onlineVcpus = v.onlineVcpus();
            case HvmParam p -> {
                if (guest != GuestType.HVM) {
                    throw bad(item, p.type().code(), "HVM-only param in PV stream");
                }
                if (hvmParams.size() >= HvmParams.MAX_COUNT) {
                    throw bad(item, p.type().code(), "more than " + HvmParams.MAX_COUNT + " HVM params in one body");
                }
                hvmParams.add(new HvmParams.Param(p.type().hvmParamIndex(), p.value()));
            }
            case TscInfoChunk t -> libxc.write(new TscInfoRecord(t.tsc()));
            case Tmem t -> throw bad(item, ChunkType.TMEM.code(), "TMEM has no v2 equivalent");
            case TmemExtra t -> throw bad(item, ChunkType.TMEM_EXTRA.code(), "TMEM_EXTRA has no v2 equivalent");
            case CompressedData c -> throw bad(item, ChunkType.COMPRESSED_DATA.code(),
                    "compressed checkpoints have no v2 equivalent");
            case Toolstack t -> {
                if (options.format() == Format.LIBXL) {
                    physmapToXenstore(t, ByteBuffer.wrap(t.data().toArray()).order(ByteOrder.LITTLE_ENDIAN));
                }
            }
            case EndOfBody e -> {
                if (!hvmParams.isEmpty()) {
                    libxc.write(new HvmParams(hvmParams));
                    hvmParams.clear();
                }
            }
            case PvUnmappedPfns u -> unmappedPfns(u);
            case PvVcpuRecord v -> {
                libxc.write(new VcpuRecord(dev.migrationd.protocol.v2.RecordType.X86_PV_VCPU_BASIC, v.vcpuId(),
                        v.context().asByteBuffer()));
                if (v.extContext() != null) {
                    libxc.write(new VcpuRecord(dev.migrationd.protocol.v2.RecordType.X86_PV_VCPU_EXTENDED, v.vcpuId(),
                            v.extContext().asByteBuffer()));
                }
                if (v.xsave() != null) {
                    libxc.write(new VcpuRecord(dev.migrationd.protocol.v2.RecordType.X86_PV_VCPU_XSAVE, v.vcpuId(),
                            ByteBuffer.wrap(v.xsave().buffer())));
                }
            }
            case PvSharedInfo s -> libxc.write(new SharedInfoRecord(s.page().asByteBuffer()));
            case HvmMagicPfns m -> libxc.write(new HvmParams(m.hvmParams().entrySet().stream()
                    .map(e -> new HvmParams.Param(e.getKey(), e.getValue())).toList()));
            case HvmTailContext c -> {
                if (c.blob().size() == 0) {
                    throw bad(item, 0, "empty HVM context");
                }
                libxc.write(BlobRecord.hvmContext(c.blob().asByteBuffer()));
            }
            case QemuRecord q -> qemu = q;
            case CheckpointEnd c -> endCheckpoint(c.last());
        }
    }

    /**
     * End of the legacy input. After a checkpoint that was not marked last (a Remus stream ending in EOF), writes
     * END (libxc) and, for libxl, END; the libxc format then gets the last QEMU record.
     */
    public void finish() throws IOException, StreamException {
        if (ended) {
            return;
        }
        if (checkpointsDone == 0) {
            throw new RecordException("STREAM", 0, sourceOffset, "legacy stream ended before its first checkpoint");
        }
        libxc.write(SignalRecord.END);
        if (libxl != null) {
            libxl.write(LibxlSignalRecord.END);
        } else {
            rawQemu();
        }
        ended = true;
    }

    private void begin(GuestType g) throws IOException {
        if (guest != null) {
            throw new IllegalStateException("second stream header");
        }
        guest = g;
        if (libxl != null) {
            libxl.writeHeader(new LibxlHeader(true));
            libxl.write(LibxlSignalRecord.LIBXC_CONTEXT);
        }
        libxc.writeImageHeader(ImageHeader.V3);
        libxc.writeDomainHeader(DomainHeader.converted(g));
        if (g == GuestType.HVM) {
            libxc.write(SignalRecord.STATIC_DATA_END);
        }
    }

    private void pageBatch(PageBatch batch) throws IOException, StreamException {
        if (batch.pfnsOnly()) {
            throw bad(batch, 0, "compressed (Format B) page batch has no v2 equivalent");
        }
        PageBatch b = options.detachPages() ? batch.detach() : batch;
        // A PFN twice in one batch (the reader accepts it, as libxc does) becomes one v2 entry, the one whose effect
        // libxc keeps: the later page (or BROKEN mark) over an XALLOC, either over an XTAB, else the later entry.
        Map<Long, Integer> winner = new HashMap<>();
        for (int i = 0; i < b.count(); i++) {
            if (b.entry(i) == PageType.XTAB.pfinfo()) {
                continue;
            }
            Integer before = winner.get(b.pfn(i));
            if (before == null || effect(b.type(i)) >= effect(b.type(before))) {
                winner.put(b.pfn(i), i);
            }
        }
        long[] entries = new long[winner.size()];
        List<ByteBuffer> pages = new ArrayList<>(b.dataCount());
        int n = 0;
        for (int i = 0; i < b.count(); i++) {
            int e = b.entry(i);
            if (e == PageType.XTAB.pfinfo() || winner.get(b.pfn(i)) != i) {
                continue; // XTAB without a PFN: dropped, as convert-legacy-stream does; or a superseded duplicate
            }
            int nibble = e >>> PageType.LTAB_SHIFT;
            PageType t = PageType.fromNibbleOrNull(nibble);
            if (t == null) {
                throw bad(batch, b.count(), "page type 0x" + Integer.toHexString(nibble) + " of pfn 0x"
                        + Long.toHexString(b.pfn(i)) + " is invalid in v2");
            }
            entries[n++] = PageData.entry(t, b.pfn(i));
            if (t.hasData()) {
                pages.add(b.page(i));
            }
        }
        if (n == 0) {
            return; // only PFN-less XTAB entries: Xen would write an empty (invalid) record
        }
        libxc.write(PageData.of(java.util.Arrays.copyOf(entries, n), pages.toArray(ByteBuffer[]::new)));
    }

    /** How much of a PFN's state an entry sets, for choosing among duplicates: data or BROKEN, XALLOC, XTAB. */
    private static int effect(PageType t) {
        return switch (t) {
            case XTAB -> 0;
            case XALLOC -> 1;
            case null, default -> 2;
        };
    }

    private void unmappedPfns(PvUnmappedPfns u) throws IOException {
        long[] pfns = u.pfns();
        for (int from = 0; from < pfns.length; from += dev.migrationd.protocol.StreamLimits.MAX_BATCH_SIZE) {
            int n = Math.min(pfns.length - from, dev.migrationd.protocol.StreamLimits.MAX_BATCH_SIZE);
            long[] entries = new long[n];
            for (int i = 0; i < n; i++) {
                entries[i] = PageData.entry(PageType.XTAB, pfns[from + i]);
            }
            libxc.write(PageData.of(entries));
        }
    }

    private void endCheckpoint(boolean last) throws IOException {
        checkpointsDone++;
        libxc.write(last ? SignalRecord.END : SignalRecord.CHECKPOINT);
        if (libxl != null) {
            if (xenstore.size() > 0) {
                libxl.write(new EmulatorRecord(LibxlRecordType.EMULATOR_XENSTORE_DATA, V2Format.EMULATOR_UNKNOWN, 0,
                        ByteBuffer.wrap(xenstore.toByteArray())));
                xenstore.reset();
            }
            if (qemu != null && !options.skipQemu()) {
                libxl.write(new EmulatorRecord(LibxlRecordType.EMULATOR_CONTEXT, V2Format.EMULATOR_UNKNOWN, 0,
                        qemu.state().asByteBuffer()));
                qemu = null;
            }
            qemu = null;
            libxl.write(last ? LibxlSignalRecord.END : LibxlSignalRecord.CHECKPOINT_END);
        } else if (last) {
            rawQemu();
        }
        ended = last;
    }

    /** libxc format: {@code "DeviceModelRecord0002", u32 length, state} after END, as Xen's converter writes it. */
    private void rawQemu() throws IOException {
        if (qemu == null || options.skipQemu()) {
            return;
        }
        ByteBuffer head = ByteBuffer.allocate(QEMU_SIGNATURE.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        head.put(QEMU_SIGNATURE).putInt(qemu.state().size()).flip();
        sink.write(head);
        if (qemu.state().size() > 0) {
            sink.write(qemu.state().asByteBuffer());
        }
        qemu = null;
    }

    /**
     * libxl's TOOLSTACK "version 1" physmap as EMULATOR_XENSTORE_DATA pairs ({@code physmap/<phys>/start_addr},
     * {@code …/size}, {@code …/name}; values lowercase hex without 0x), parsed with Xen's rules on the raw octets.
     */
    private void physmapToXenstore(LegacyItem item, ByteBuffer b) throws RecordException {
        long code = ChunkType.TOOLSTACK.code();
        if (b.remaining() == 0) {
            return;
        }
        if (b.remaining() < 8) {
            throw bad(item, code, "overly short libxl toolstack data");
        }
        int version = b.getInt();
        long count = Integer.toUnsignedLong(b.getInt());
        if (version != 1) {
            throw bad(item, code, "cannot decode libxl toolstack version " + Integer.toUnsignedString(version));
        }
        int junk = options.toolstackWidth() == Width.W64 ? 4 : 0;
        ByteArrayOutputStream kv = new ByteArrayOutputStream();
        for (long i = 0; i < count; i++) {
            if (b.remaining() < 28) {
                throw bad(item, code, "remaining data too short for physmap header " + i);
            }
            long phys = b.getLong();
            long start = b.getLong();
            long size = b.getLong();
            long nameLen = Integer.toUnsignedLong(b.getInt());
            if (nameLen == 0) {
                throw bad(item, code, "no physmap info name in entry " + i);
            }
            if (b.remaining() < nameLen + junk) {
                throw bad(item, code, "remaining data too short for physmap name " + i);
            }
            byte[] name = new byte[(int) nameLen];
            b.get(name);
            b.position(b.position() + junk);
            if (name[name.length - 1] != 0) {
                throw bad(item, code, "physmap name " + i + " not NUL terminated");
            }
            String root = "physmap/" + Long.toHexString(phys);
            pair(kv, root + "/start_addr", Long.toHexString(start).getBytes(StandardCharsets.US_ASCII));
            pair(kv, root + "/size", Long.toHexString(size).getBytes(StandardCharsets.US_ASCII));
            pair(kv, root + "/name", java.util.Arrays.copyOf(name, name.length - 1));
        }
        if ((long) xenstore.size() + kv.size() > MAX_XENSTORE_BYTES) {
            throw bad(item, code, "emulator xenstore data of one checkpoint exceeds " + MAX_XENSTORE_BYTES + " bytes");
        }
        xenstore.writeBytes(kv.toByteArray());
    }

    private static void pair(ByteArrayOutputStream out, String key, byte[] value) {
        out.writeBytes(key.getBytes(StandardCharsets.US_ASCII));
        out.write(0);
        out.writeBytes(value);
        out.write(0);
    }

    private RecordException bad(LegacyItem item, long code, String problem) {
        return new RecordException(item.itemName(), code, sourceOffset, problem);
    }
}
