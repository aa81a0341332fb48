package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Xen migration stream v2 (libxc layer, a version 3 image) on the source side, in the record order of
 * stream-v2.md §2.6. PV: X86_PV_INFO, STATIC_DATA_END, X86_PV_P2M_FRAMES, PAGE_DATA…, X86_TSC_INFO,
 * SHARED_INFO, per online vCPU {BASIC, EXTENDED, XSAVE}, END. HVM: STATIC_DATA_END, PAGE_DATA…,
 * X86_TSC_INFO, HVM_PARAMS, HVM_CONTEXT, END. Pages go out as views of guest memory
 * ({@link PageData#of}); an invalid PFN is an XTAB entry with its PFN. The TSC is read when the guest is
 * paused and written after the final pages, where v2 places it. Confined to the stream's thread.
 */
final class V2Writer implements FormatWriter {

    /** The Xen version whose stream this is, in the domain header. */
    static final int XEN_MAJOR = 4;
    static final int XEN_MINOR = 17;

    /** HVM params a native saver sends (stream-v2.md §2.6), in its order; zero values are left out. */
    static final long[] HVM_PARAMS_SENT = {
        HvmParamIndex.HVM_PARAM_STORE_PFN, HvmParamIndex.HVM_PARAM_IOREQ_PFN, HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN,
        HvmParamIndex.HVM_PARAM_PAGING_RING_PFN, HvmParamIndex.HVM_PARAM_MONITOR_RING_PFN,
        HvmParamIndex.HVM_PARAM_SHARING_RING_PFN, HvmParamIndex.HVM_PARAM_VM86_TSS_SIZED,
        HvmParamIndex.HVM_PARAM_CONSOLE_PFN, HvmParamIndex.HVM_PARAM_ACPI_IOPORTS_LOCATION,
        HvmParamIndex.HVM_PARAM_VIRIDIAN, HvmParamIndex.HVM_PARAM_IDENT_PT, HvmParamIndex.HVM_PARAM_VM_GENERATION_ID_ADDR,
        HvmParamIndex.HVM_PARAM_IOREQ_SERVER_PFN, HvmParamIndex.HVM_PARAM_NR_IOREQ_SERVER_PAGES,
        HvmParamIndex.HVM_PARAM_X87_FIP_WIDTH, HvmParamIndex.HVM_PARAM_MCA_CAP, HvmParamIndex.HVM_PARAM_VM86_TSS};

    private final LibxcWriter writer;
    private final Domain domain;
    private final DomainInfo info;
    private TscInfo tsc;

    V2Writer(StreamOut out, Domain domain, DomainInfo info) {
        this.writer = new LibxcWriter(out::write);
        this.domain = domain;
        this.info = info;
    }

    @Override
    public void writeHeader() throws IOException, HypervisorException {
        writer.writeImageHeader(ImageHeader.V3);
        writer.writeDomainHeader(new DomainHeader(info.guestType(), XEN_MAJOR, XEN_MINOR));
        if (info.guestType() == GuestType.PV) {
            writer.write(info.guestWidth() == Width.W64 ? X86PvInfo.GUEST_64 : X86PvInfo.GUEST_32);
            writer.write(SignalRecord.STATIC_DATA_END);
            writer.write(new X86PvP2mFrames(0, info.p2mSize() - 1, domain.platform().p2mFrameList()));
        } else {
            writer.write(SignalRecord.STATIC_DATA_END);
        }
    }

    @Override
    public boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException {
        writer.write(PageData.of(entries(pfns, types, n), dataPages));
        return true;
    }

    @Override
    public void writeContiguousPages(long[] pfns, PageType[] types, int n, java.lang.foreign.MemorySegment data) throws IOException {
        FormatWriter.requireAllCarryData(types, n);
        writer.write(PageData.ofContiguous(entries(pfns, types, n), data));
    }

    private static long[] entries(long[] pfns, PageType[] types, int n) {
        long[] entries = new long[n];
        for (int i = 0; i < n; i++) {
            entries[i] = PageData.entry(types[i], pfns[i]); // XTAB keeps its PFN in v2 (stream-v2.md §2.5)
        }
        return entries;
    }

    @Override
    public void writeStopAndCopy(TscInfo tsc) {
        this.tsc = tsc; // written after the final round's pages (stream-v2.md §2.6)
    }

    @Override
    public void writeVerifyStart() throws IOException {
        writer.write(SignalRecord.VERIFY);
    }

    @Override
    public void writeEndOfBody() throws IOException {
        if (tsc == null) {
            throw new IllegalStateException("end of body before the stop-and-copy point");
        }
        writer.write(new TscInfoRecord(tsc));
    }

    @Override
    public void writeTail() throws IOException, HypervisorException {
        PlatformState p = domain.platform();
        if (info.guestType() == GuestType.PV) {
            writer.write(new SharedInfoRecord(ByteBuffer.wrap(p.sharedInfo())));
            for (int vcpu : GuestOps.vcpuInfo(p.onlineVcpus()).onlineVcpus()) {
                writer.write(new VcpuRecord(RecordType.X86_PV_VCPU_BASIC, vcpu, ByteBuffer.wrap(p.pvVcpuContext(vcpu))));
                byte[] ext = p.pvExtendedContext(vcpu);
                if (ext.length != 0) {
                    writer.write(new VcpuRecord(RecordType.X86_PV_VCPU_EXTENDED, vcpu, ByteBuffer.wrap(ext)));
                }
                byte[] xsave = p.pvXsave(vcpu);
                if (xsave.length != 0) {
                    writer.write(new VcpuRecord(RecordType.X86_PV_VCPU_XSAVE, vcpu, ByteBuffer.wrap(xsave)));
                }
            }
        } else {
            Map<Integer, Long> params = p.hvmParams();
            List<HvmParams.Param> sent = new ArrayList<>();
            for (long index : HVM_PARAMS_SENT) {
                long v = params.getOrDefault((int) index, 0L);
                if (v != 0) {
                    sent.add(new HvmParams.Param(index, v));
                }
            }
            if (!sent.isEmpty()) {
                writer.write(new HvmParams(sent));
            }
            writer.write(new BlobRecord(RecordType.HVM_CONTEXT, ByteBuffer.wrap(p.hvmContext())));
        }
        writer.write(SignalRecord.END);
    }
}
