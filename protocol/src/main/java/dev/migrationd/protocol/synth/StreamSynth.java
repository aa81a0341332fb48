package dev.migrationd.protocol.synth;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.CheckpointCompression;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.Marker;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.ToolstackPhysmap;
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
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.V2Format;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.PvExtVcpuContext;
import dev.migrationd.protocol.x86.QemuSavevm;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a complete, plausible save stream of a {@link SynthGuest}: what {@code migrationctl stream synth}
 * produces and what tests and the simulated hypervisor use as "a real guest's stream". Deterministic: the
 * same {@link SynthOptions} always give the same bytes.
 *
 * <p>Legacy (through {@link LegacyStreamWriter}), per checkpoint k: [header], TSC_INFO (k = 0), page batches
 * in PFN order (k = 0: every populated PFN; later: the dirtied ones; Format B + COMPRESSED_DATA when
 * compressed), VCPU_INFO, HVM params (HVM), TOOLSTACK (libxl, count 0), LAST_CHECKPOINT (last checkpoint),
 * ENABLE_COMPRESSION (k = 0 when compressing), end of body, tail (PV: no unmapped PFNs, per vCPU context +
 * extended context + XSAVE, shared info; HVM: magic PFNs, HVM context, DeviceModelRecord0002 with a QEMU
 * savevm blob).
 *
 * <p>v2 (through protocol.v2's writers, a native Xen 4.17 stream, image version 3): headers, static records,
 * STATIC_DATA_END, [P2M frames], PAGE_DATA, TSC_INFO, then SHARED_INFO + vCPU records (PV) or HVM_PARAMS +
 * HVM_CONTEXT (HVM); checkpoints 1..K-1 end with CHECKPOINT (libxl: EMULATOR_CONTEXT, CHECKPOINT_END), the
 * last with END (libxl: EMULATOR_CONTEXT for HVM, END).
 *
 * <p>Memory: one batch (≤ 4 MiB) at a time. Single-threaded: a call owns everything it creates.
 */
public final class StreamSynth {

    private StreamSynth() {
    }

    /** Writes the stream to {@code out} (not closed). */
    public static void write(SynthOptions o, OutputStream out) throws IOException {
        WritableByteChannel ch = Channels.newChannel(out);
        write(o, b -> {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        });
        out.flush();
    }

    /** The whole stream in memory (tests; small guests). */
    public static byte[] toBytes(SynthOptions o) throws IOException {
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        write(o, bo);
        return bo.toByteArray();
    }

    /** Writes the stream to a sink that receives each buffer once (the writers' ownership contract). */
    public static void write(SynthOptions o, ByteSink sink) throws IOException {
        SynthGuest g = new SynthGuest(o);
        switch (o.format()) {
            case LEGACY -> new Legacy(g, sink::write).run();
            case V2_LIBXC, V2_LIBXL -> new V2(g, sink).run();
        }
    }

    /** PFNs sent in checkpoint k, ascending, in batches of at most 1024. */
    static List<long[]> batches(SynthGuest g, int k) {
        List<long[]> out = new ArrayList<>();
        long[] cur = new long[StreamLimits.MAX_BATCH_SIZE];
        int n = 0;
        for (long pfn = 0; pfn < g.p2mSize(); pfn++) {
            if (g.sentIn(pfn, k)) {
                cur[n++] = pfn;
                if (n == cur.length) {
                    out.add(cur);
                    cur = new long[StreamLimits.MAX_BATCH_SIZE];
                    n = 0;
                }
            }
        }
        if (n > 0) {
            out.add(Arrays.copyOf(cur, n));
        }
        return out;
    }

    private static ByteBuffer pages(SynthGuest g, long[] pfns, int k) {
        ByteBuffer data = ByteBuffer.allocate(pfns.length * StreamLimits.PAGE_SIZE);
        for (int i = 0; i < pfns.length; i++) {
            g.fillPage(pfns[i], k, data.position(i * StreamLimits.PAGE_SIZE));
        }
        return data.position(0);
    }

    // ------------------------------------------------------------------ legacy

    private static final class Legacy {
        private final SynthGuest g;
        private final SynthOptions o;
        private final LegacyStreamWriter w;
        private CheckpointCompression.Encoder encoder;

        Legacy(SynthGuest g, ByteSink sink) {
            this.g = g;
            this.o = g.options();
            this.w = new LegacyStreamWriter(sink, o.toolstackWidth(), o.guest(), o.checkpoints() > 1);
        }

        void run() throws IOException {
            if (o.guest() == GuestType.PV) {
                w.write(new PvHeader(g.p2mSize(), Bytes.of(g.pvRawVcpu0Context()), true,
                        g.pvXsave().xsaveLen(), g.p2mFrames()));
            } else {
                w.write(new HvmHeader(g.p2mSize()));
            }
            for (int k = 0; k < o.checkpoints(); k++) {
                checkpoint(k);
            }
            if (!w.isClosed()) {
                throw new IllegalStateException("legacy stream not complete after " + o.checkpoints() + " checkpoints");
            }
        }

        private void checkpoint(int k) throws IOException {
            boolean last = k == o.checkpoints() - 1;
            boolean formatB = o.compress() && k > 0;
            if (k == 0) {
                w.write(new TscInfoChunk(g.tsc()));
            }
            for (long[] pfns : batches(g, k)) {
                int[] entries = new int[pfns.length];
                for (int i = 0; i < pfns.length; i++) {
                    entries[i] = g.typeOf(pfns[i]).pfinfo() | (int) pfns[i];
                }
                if (formatB) {
                    w.write(PageBatch.pfnsOnly(entries));
                    w.writeCompressedData(compress(pfns, k));
                } else {
                    w.write(PageBatch.ofContiguous(entries, pages(g, pfns, k)));
                }
            }
            int[] online = new int[o.vcpus()];
            Arrays.setAll(online, i -> i);
            w.write(VcpuInfo.ofOnline(online));
            if (o.guest() == GuestType.HVM) {
                w.write(new HvmParam(ChunkType.HVM_GENERATION_ID_ADDR, SynthGuest.HVM_GENERATION_ID_ADDR));
                w.write(new HvmParam(ChunkType.HVM_IDENT_PT, SynthGuest.HVM_IDENT_PT));
                w.write(new HvmParam(ChunkType.HVM_VM86_TSS, SynthGuest.HVM_VM86_TSS));
                w.write(new HvmParam(ChunkType.HVM_CONSOLE_PFN, g.consolePfn()));
                w.write(new HvmParam(ChunkType.HVM_ACPI_IOPORTS_LOCATION, 1));
            }
            w.write(new Toolstack(ToolstackPhysmap.encode(o.toolstackWidth(), List.of())));
            if (last) {
                w.write(new Marker(ChunkType.LAST_CHECKPOINT));
            }
            if (k == 0 && o.compress()) {
                w.write(new Marker(ChunkType.ENABLE_COMPRESSION));
            }
            w.write(new EndOfBody());
            if (o.guest() == GuestType.PV) {
                w.write(new PvUnmappedPfns(new long[0]));
                for (int v = 0; v < o.vcpus(); v++) {
                    w.write(new PvVcpuRecord(v, Bytes.of(g.pvVcpuContext(v)), Bytes.of(g.pvExtContext(v)),
                            g.pvXsave()));
                }
                w.write(new PvSharedInfo(Bytes.of(g.sharedInfo())));
            } else {
                w.write(new HvmMagicPfns(g.ioreqPfn(), g.bufioreqPfn(), g.storePfn()));
                w.write(new HvmTailContext(Bytes.of(g.hvmContext())));
                w.write(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002,
                        Bytes.of(QemuSavevm.minimal(QemuSavevm.MACHINE_XENFV))));
            }
        }

        private ByteBuffer compress(long[] pfns, int k) {
            if (encoder == null) {
                encoder = new CheckpointCompression.Encoder();
            }
            ByteBuffer out = ByteBuffer.allocate(pfns.length * LegacyFormat.WORST_COMP_PAGE_SIZE);
            ByteBuffer page = ByteBuffer.allocate(StreamLimits.PAGE_SIZE);
            for (long pfn : pfns) {
                g.fillPage(pfn, k, page.clear());
                encoder.encode(pfn, g.typeOf(pfn).isPageTable(), page, out);
            }
            return out.flip();
        }
    }

    // ------------------------------------------------------------------ v2

    private static final class V2 {
        private final SynthGuest g;
        private final SynthOptions o;
        private final LibxlWriter libxl;
        private final LibxcWriter libxc;

        V2(SynthGuest g, ByteSink sink) {
            this.g = g;
            this.o = g.options();
            if (o.format() == SynthOptions.Format.V2_LIBXL) {
                libxl = new LibxlWriter(sink);
                libxc = libxl.libxc();
            } else {
                libxl = null;
                libxc = new LibxcWriter(sink);
            }
        }

        void run() throws IOException {
            if (libxl != null) {
                libxl.writeHeader(new LibxlHeader(false));
                libxl.write(LibxlSignalRecord.LIBXC_CONTEXT);
            }
            libxc.writeImageHeader(ImageHeader.V3);
            libxc.writeDomainHeader(new DomainHeader(o.guest(), 4, 17));
            if (o.guest() == GuestType.PV) {
                libxc.write(g.guestWidth() == Width.W64 ? X86PvInfo.GUEST_64 : X86PvInfo.GUEST_32);
            }
            libxc.write(SignalRecord.STATIC_DATA_END);
            if (o.guest() == GuestType.PV) {
                libxc.write(new X86PvP2mFrames(0, g.p2mSize() - 1, g.p2mFrames()));
            }
            for (int k = 0; k < o.checkpoints(); k++) {
                boolean last = k == o.checkpoints() - 1;
                for (long[] pfns : batches(g, k)) {
                    long[] entries = new long[pfns.length];
                    ByteBuffer data = pages(g, pfns, k);
                    ByteBuffer[] views = new ByteBuffer[pfns.length];
                    for (int i = 0; i < pfns.length; i++) {
                        entries[i] = PageData.entry(g.typeOf(pfns[i]), pfns[i]);
                        views[i] = data.slice(i * StreamLimits.PAGE_SIZE, StreamLimits.PAGE_SIZE);
                    }
                    libxc.write(PageData.of(entries, views));
                }
                libxc.write(new TscInfoRecord(g.tsc()));
                if (o.guest() == GuestType.PV) {
                    libxc.write(new SharedInfoRecord(ByteBuffer.wrap(g.sharedInfo())));
                    XsaveRecord x = g.pvXsave();
                    for (int v = 0; v < o.vcpus(); v++) {
                        libxc.write(new VcpuRecord(RecordType.X86_PV_VCPU_BASIC, v, ByteBuffer.wrap(g.pvVcpuContext(v))));
                        // a native saver writes the struct's own size (56 bytes in Xen 4.3+)
                        byte[] ext = Arrays.copyOf(g.pvExtContext(v), PvExtVcpuContext.STRUCT_SIZE_4_3);
                        libxc.write(new VcpuRecord(RecordType.X86_PV_VCPU_EXTENDED, v, ByteBuffer.wrap(ext)));
                        libxc.write(new VcpuRecord(RecordType.X86_PV_VCPU_XSAVE, v, ByteBuffer.wrap(x.buffer())));
                    }
                } else {
                    libxc.write(new HvmParams(List.of(
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_STORE_PFN, g.storePfn()),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_IOREQ_PFN, g.ioreqPfn()),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, g.bufioreqPfn()),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_CONSOLE_PFN, g.consolePfn()),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_ACPI_IOPORTS_LOCATION, 1),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_IDENT_PT, SynthGuest.HVM_IDENT_PT),
                            new HvmParams.Param(HvmParamIndex.HVM_PARAM_VM_GENERATION_ID_ADDR,
                                    SynthGuest.HVM_GENERATION_ID_ADDR))));
                    libxc.write(BlobRecord.hvmContext(ByteBuffer.wrap(g.hvmContext())));
                }
                libxc.write(last ? SignalRecord.END : SignalRecord.CHECKPOINT);
                if (libxl != null) {
                    if (o.guest() == GuestType.HVM) {
                        libxl.write(new EmulatorRecord(LibxlRecordType.EMULATOR_CONTEXT, V2Format.EMULATOR_QEMU_UPSTREAM,
                                0, ByteBuffer.wrap(QemuSavevm.minimal(QemuSavevm.MACHINE_XENFV))));
                    }
                    libxl.write(last ? LibxlSignalRecord.END : LibxlSignalRecord.CHECKPOINT_END);
                }
            }
        }
    }
}
