package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.EmulatorRecord;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxcRecord;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.LibxlRecord;
import dev.migrationd.protocol.v2.LibxlRecordType;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import dev.migrationd.protocol.x86.HvmContext;
import dev.migrationd.protocol.x86.PvVcpuContext;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Reads a v2 stream (libxc or libxl layer) with protocol.v2's readers into a report, and checks what the
 * readers leave to the caller: HVM context structure, PV vCPU contexts (sizes, and {@link PvStateCheck}), and
 * bytes after the end. Offsets count from the start of the v2 stream ({@link StreamVerifier} turns them into
 * file offsets). Owned by the verifying thread.
 */
final class V2Analysis extends StreamAnalysis {
    /** convert-legacy-stream -f libxc appends the legacy QEMU record raw after the libxc END. */
    static final String QEMU_SIG = "DeviceModelRecord0002";

    private long pos;
    private Width guestWidth;
    private long p2mSize = -1;
    private final TreeSet<Integer> vcpus = new TreeSet<>();

    private V2Analysis(Report s) {
        super(s, "X86_PV_VCPU_BASIC");
    }

    /** Reads the v2 stream that {@code in} is positioned at, to its end, into {@code s}. */
    static void read(StreamInput in, DetectedStream d, Report s) throws IOException, StreamException {
        new V2Analysis(s).run(in, d);
    }

    private void run(StreamInput in, DetectedStream d) throws IOException, StreamException {
        boolean libxl = d.kind() == DetectedStream.Kind.V2_LIBXL;
        LibxlReader lx = libxl ? new LibxlReader(StreamLimits.DEFAULT) : null;
        LibxcReader lc = libxl ? null : new LibxcReader(StreamLimits.DEFAULT);
        ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
        while (true) {
            buf.clear();
            if (in.read(buf) < 0) {
                break;
            }
            buf.flip();
            List<? extends V2Item> items = libxl ? lx.feed(buf) : lc.feed(buf);
            for (V2Item item : items) {
                handle(item);
            }
            boolean done = libxl ? lx.isDone() : lc.isDone();
            if (done) {
                trailing(in, buf, libxl);
                break;
            }
        }
        if (libxl) {
            lx.finish();
        } else {
            lc.finish();
        }
        s.checkpoints(s.checkpointsClosed());
        endTail(vcpus.isEmpty() ? null : vcpus.size());
    }

    private void trailing(StreamInput in, ByteBuffer buf, boolean libxl) throws IOException, StreamException {
        long start = pos;
        // bare libxc: only the raw QEMU record convert-legacy-stream appends may follow
        int sigLen = QEMU_SIG.length();
        ByteBuffer head = ByteBuffer.allocate(sigLen + 4).order(ByteOrder.LITTLE_ENDIAN);
        while (head.hasRemaining() && buf.hasRemaining()) {
            head.put(buf.get());
        }
        in.read(head);
        head.flip();
        long left = head.remaining() + buf.remaining() + in.drain();
        if (left == 0) {
            return;
        }
        if (libxl) {
            throw new RecordException("TRAILING_DATA", 0, start, left + " bytes after the libxl END record");
        }
        byte[] sig = new byte[Math.min(sigLen, head.remaining())];
        head.get(sig);
        if (!QEMU_SIG.equals(new String(sig, StandardCharsets.ISO_8859_1)) || head.remaining() < 4) {
            throw new RecordException("TRAILING_DATA", 0, start, left + " bytes after the libxc END record that are "
                    + "not a " + QEMU_SIG + " record");
        }
        long len = Integer.toUnsignedLong(head.getInt());
        if (len != left - sigLen - 4) {
            throw new RecordException("QEMU_RECORD", 0, start + sigLen, "QEMU record length " + len + " but "
                    + (left - sigLen - 4) + " bytes follow");
        }
        s.item("QEMU_RECORD (raw, after END)", left);
        s.tail("qemu_record", QEMU_SIG + ", " + len + " bytes");
        pos += left;
    }

    private static long framed(long body) {
        return 8 + ((body + 7) & ~7L);
    }

    private void handle(V2Item item) throws StreamException {
        switch (item) {
            case ImageHeader h -> {
                s.item("IMAGE_HEADER", 24);
                s.tail("libxc_version", h.version());
                pos += 24;
            }
            case DomainHeader h -> {
                s.item("DOMAIN_HEADER", 16);
                s.guestType(h.guestType(), Report.Source.DOMAIN_HEADER);
                s.tail("xen_version", h.xenMajor() + "." + h.xenMinor()
                        + (h.isConvertedFromLegacy() ? " (converted from legacy)" : ""));
                pos += 16;
            }
            case LibxlHeader h -> {
                s.item("LIBXL_HEADER", 16);
                s.tail("libxl_legacy_converted", h.legacy());
                pos += 16;
            }
            case LibxlRecord r -> {
                long n = framed(r.bodyLength());
                s.item("LIBXL_" + r.type().name(), n);
                if (r instanceof EmulatorRecord e && e.type() == LibxlRecordType.EMULATOR_CONTEXT) {
                    s.tail("emulator_context_bytes", e.data().remaining());
                }
                pos += n;
            }
            case LibxcRecord r -> libxc(r);
        }
    }

    private void libxc(LibxcRecord r) throws StreamException {
        long start = pos;
        long n = framed(r.bodyLength());
        s.item(r.type().name(), n);
        pos += n;
        switch (r) {
            case PageData p -> {
                for (int i = 0; i < p.count(); i++) {
                    s.page(p.pageType(i), 1);
                    pv.page(p.pfn(i), p.pageType(i));
                }
            }
            case X86PvInfo info -> {
                guestWidth = info.guestWidth() == 8 ? Width.W64 : Width.W32;
                s.guestWidth(guestWidth);
            }
            case X86PvP2mFrames f -> {
                p2mSize = f.endPfn() + 1;
                s.p2mSize(p2mSize);
                s.tail("p2m_frames", f.frameCount());
            }
            case VcpuRecord v -> {
                if (v.type() == RecordType.X86_PV_VCPU_BASIC) {
                    vcpus.add(v.vcpuId());
                    int size = v.data().remaining();
                    if (guestWidth == null || p2mSize < 0) {
                        throw new RecordException(r.type().name(), r.type().code(), start,
                                "vcpu record before X86_PV_INFO and X86_PV_P2M_FRAMES");
                    }
                    if (size != PvVcpuContext.size(guestWidth)) {
                        throw new RecordException(r.type().name(), r.type().code(), start, "vcpu context of "
                                + size + " bytes, expected " + PvVcpuContext.size(guestWidth) + " for a "
                                + guestWidth.bits() + "-bit guest");
                    }
                    byte[] ctx = new byte[size];
                    v.data().get(ctx);
                    pv.vcpu(v.vcpuId(), ctx, guestWidth, p2mSize, start);
                }
            }
            case TscInfoRecord(TscInfo t) -> s.tail("tsc", "mode " + t.mode() + ", " + t.khz() + " kHz, " + t.nsec() + " ns, incarnation "
                    + t.incarnation());
            case HvmParams hp -> {
                List<String> ps = new ArrayList<>();
                for (HvmParams.Param p : hp.params()) {
                    ps.add(p.index() + "=0x" + Long.toHexString(p.value()));
                }
                s.tailList("hvm_params").addAll(ps);
            }
            case BlobRecord b when b.type() == RecordType.HVM_CONTEXT -> {
                hvmContext(HvmContext.parse(MemorySegment.ofBuffer(b.data()), start + 8));
            }
            default -> {
                if (r.type() == RecordType.CHECKPOINT) {
                    s.endCheckpoint();
                } else if (r.type() == RecordType.SHARED_INFO) {
                    s.tail("shared_info", "4096 bytes");
                }
            }
        }
        if (r.type() == RecordType.END) {
            if (s.guestType() == GuestType.PV && vcpus.isEmpty()) {
                throw new RecordException("END", 0, start, "PV stream without any X86_PV_VCPU_BASIC record");
            }
            s.endCheckpoint();
        }
    }
}
