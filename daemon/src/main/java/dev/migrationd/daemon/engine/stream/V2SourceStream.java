package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The Xen migration stream v2 (libxc layer, a version 3 image) on the source side, in the record order of
 * docs/wire-format-v2.md §2.6: image and domain header, the guest type's static data, PAGE_DATA…,
 * X86_TSC_INFO, the guest type's tail, END. Pages go out as views of guest memory ({@link PageData#of}); an
 * invalid PFN is an XTAB entry with its PFN. The TSC is read when the guest is paused and written after the
 * final pages, where v2 places it. Confined to the stream's thread.
 */
final class V2SourceStream extends SourceStream {

    /** The Xen version whose stream this is, in the domain header. */
    static final int XEN_MAJOR = 4;
    static final int XEN_MINOR = 17;

    private final LibxcWriter writer;
    private final DomainInfo info;
    private TscInfo tsc;

    V2SourceStream(StreamOut out, Domain domain, DomainInfo info) {
        super(domain, info);
        this.writer = new LibxcWriter(out::write);
        this.info = info;
    }

    @Override
    public void writeHeader() throws IOException, HypervisorException {
        writer.writeImageHeader(ImageHeader.V3);
        writer.writeDomainHeader(new DomainHeader(info.guestType(), XEN_MAJOR, XEN_MINOR));
        guest.writeV2StaticData(writer);
    }

    @Override
    public boolean writePages(long[] pfns, PageType[] types, int n, ByteBuffer[] dataPages) throws IOException {
        writer.write(PageData.of(entries(pfns, types, n), dataPages));
        return true;
    }

    @Override
    void writeContiguous(long[] pfns, PageType[] types, int n, MemorySegment data) throws IOException {
        writer.write(PageData.ofContiguous(entries(pfns, types, n), data));
    }

    private static long[] entries(long[] pfns, PageType[] types, int n) {
        long[] entries = new long[n];
        for (int i = 0; i < n; i++) {
            entries[i] = PageData.entry(types[i], pfns[i]); // XTAB keeps its PFN in v2 (docs/wire-format-v2.md §2.5)
        }
        return entries;
    }

    @Override
    public void writeStopAndCopy(TscInfo tsc) {
        this.tsc = tsc; // written after the final round's pages (docs/wire-format-v2.md §2.6)
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
        guest.writeV2Tail(writer);
        writer.write(SignalRecord.END);
    }
}
