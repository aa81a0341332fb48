package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.DomainHeader;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.ImageHeader;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Applies a libxc v2 stream to a domain being restored (paused), as it arrives: pages straight from the fed
 * buffer into {@link GuestMemory#writePage} through the reader's {@link LibxcReader.PageListener} (no page
 * is assembled in between, except one split across feeds), records to the platform state. The reader
 * validates framing and bounds with the offer's p2m size as {@code maxP2mSize}; this class checks what only
 * the engine knows: the offer's guest type, width, p2m size and vCPU count, and the record dependencies
 * (X86_PV_INFO and X86_PV_P2M_FRAMES before memory; HVM_CONTEXT, or SHARED_INFO and vCPU 0, before END).
 * After VERIFY, pages are compared with what is there instead of written. Confined to one thread.
 */
final class V2Applier implements StreamInput {

    /** Highest HVM param index accepted (Xen 4.17 defines indexes below 39; HVM_NR_PARAMS is 64-bounded). */
    static final int MAX_HVM_PARAM_INDEX = 63;

    private final Domain domain;
    private final DomainShape shape;
    private final Runnable onStopAndCopy;
    private final LibxcReader reader;
    private boolean pvInfo;
    private boolean p2mFrames;
    private boolean sharedInfo;
    private boolean vcpu0;
    private boolean hvmContext;
    private boolean verifying;
    private final VerifyTally verify = new VerifyTally();
    private long pages;
    private boolean complete;
    private StreamApplier.Failure failure;

    V2Applier(Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        this.domain = domain;
        this.shape = shape;
        this.onStopAndCopy = onStopAndCopy;
        this.reader = new LibxcReader(StreamLimits.DEFAULT.withMaxP2mSize(shape.p2mSize()), this::accept, this::page);
    }

    @Override
    public void feed(ByteBuffer data) throws StreamException, HypervisorException {
        try {
            reader.feed(data);
        } catch (StreamApplier.Failure f) {
            StreamApplier.rethrow(f);
        }
    }

    @Override
    public void finish() throws StreamException, HypervisorException {
        try {
            reader.finish();
        } catch (StreamApplier.Failure f) {
            StreamApplier.rethrow(f);
        }
    }

    @Override
    public boolean complete() {
        return complete;
    }

    @Override
    public long offset() {
        return reader.offset();
    }

    @Override
    public long pages() {
        return pages;
    }

    @Override
    public void completeRestore() throws StreamException, HypervisorException {
        if (!complete) {
            throw new RecordException("STREAM", 0, reader.offset(), "stream ended before END");
        }
        verify.check(RecordType.VERIFY.name(), RecordType.VERIFY.code(), reader.offset());
        domain.completeRestore();
    }


    private void accept(LibxcItem item) {
        if (failure != null) {
            throw failure;
        }
        try {
            apply(item);
        } catch (StreamException | HypervisorException e) {
            failure = new StreamApplier.Failure(e);
            throw failure;
        }
    }

    private RecordException bad(RecordType t, String problem) {
        return new RecordException(t.name(), t.code(), reader.offset(), problem);
    }

    private void apply(LibxcItem item) throws StreamException, HypervisorException {
        PlatformState p = domain.platform();
        switch (item) {
            case ImageHeader h -> {
            }
            case DomainHeader h -> {
                if (h.guestType() != shape.guestType()) {
                    throw new RecordException(DomainHeader.ITEM, 0, reader.offset(), "a " + h.guestType()
                            + " stream for a " + shape.guestType() + " domain");
                }
            }
            case PageData pd -> applyEntries(pd);
            case X86PvInfo i -> {
                Width w = i.guestWidth() == 8 ? Width.W64 : Width.W32;
                if (w != shape.guestWidth()) {
                    throw bad(RecordType.X86_PV_INFO, "guest width " + w.bits() + " differs from the offer's "
                            + shape.guestWidth().bits());
                }
                pvInfo = true;
            }
            case X86PvP2mFrames f -> {
                if (!pvInfo) {
                    throw bad(RecordType.X86_PV_P2M_FRAMES, "before X86_PV_INFO");
                }
                if (f.startPfn() != 0 || f.endPfn() != shape.p2mSize() - 1) {
                    throw bad(RecordType.X86_PV_P2M_FRAMES, "covers pfns 0x" + Long.toHexString(f.startPfn()) + "..0x"
                            + Long.toHexString(f.endPfn()) + ", not the offer's 0..0x" + Long.toHexString(shape.p2mSize() - 1));
                }
                p.setP2mFrameList(f.frames());
                p2mFrames = true;
            }
            case TscInfoRecord t -> {
                onStopAndCopy.run();
                p.setTscInfo(t.tsc());
            }
            case SharedInfoRecord s -> {
                p.setSharedInfo(bytes(s.page()));
                sharedInfo = true;
            }
            case VcpuRecord v -> applyVcpu(v, p);
            case HvmParams hp -> {
                for (HvmParams.Param param : hp.params()) {
                    if (param.index() < 0 || param.index() > MAX_HVM_PARAM_INDEX) {
                        throw bad(RecordType.HVM_PARAMS, "unknown HVM param index " + param.index());
                    }
                    p.setHvmParam((int) param.index(), param.value());
                }
            }
            case BlobRecord b when b.type() == RecordType.HVM_CONTEXT -> {
                p.setHvmContext(bytes(b.data()));
                hvmContext = true;
            }
            case BlobRecord b when b.type() == RecordType.X86_CPUID_POLICY || b.type() == RecordType.X86_MSR_POLICY -> {
                // no CPU policy behind the hypervisor interface: validated by the reader only
            }
            case SignalRecord s when s.type() == RecordType.STATIC_DATA_END -> {
            }
            case SignalRecord s when s.type() == RecordType.VERIFY -> verifying = true;
            case SignalRecord s when s.type() == RecordType.END -> {
                if (shape.guestType() == GuestType.HVM && !hvmContext) {
                    throw bad(RecordType.END, "HVM stream without HVM_CONTEXT");
                }
                if (shape.guestType() == GuestType.PV && (!sharedInfo || !vcpu0)) {
                    throw bad(RecordType.END, "PV stream without " + (sharedInfo ? "vcpu 0's context" : "SHARED_INFO"));
                }
                complete = true;
            }
            case SignalRecord s -> throw bad(s.type(), "not supported by this daemon (checkpointed streams are not accepted)");
            case BlobRecord b -> throw bad(b.type(), "not supported by this daemon");
            default -> throw new RecordException(item.getClass().getSimpleName(), 0, reader.offset(), "not supported by this daemon");
        }
    }

    private void applyVcpu(VcpuRecord v, PlatformState p) throws StreamException, HypervisorException {
        if (v.vcpuId() >= shape.vcpus()) {
            throw bad(v.type(), "vcpu " + v.vcpuId() + " beyond the offer's " + shape.vcpus());
        }
        byte[] data = bytes(v.data());
        switch (v.type()) {
            case X86_PV_VCPU_BASIC -> {
                int want = shape.guestWidth() == Width.W64 ? LegacyFormat.VCPU_CONTEXT_SIZE_X86_64
                        : LegacyFormat.VCPU_CONTEXT_SIZE_X86_32;
                if (data.length != want) {
                    throw bad(v.type(), "context of " + data.length + " bytes, expected " + want + " for a "
                            + shape.guestWidth().bits() + "-bit guest");
                }
                p.setPvVcpuContext(v.vcpuId(), data);
                if (v.vcpuId() == 0) {
                    vcpu0 = true;
                }
            }
            case X86_PV_VCPU_EXTENDED -> p.setPvExtendedContext(v.vcpuId(), data);
            case X86_PV_VCPU_XSAVE -> p.setPvXsave(v.vcpuId(), data);
            default -> throw bad(v.type(), "not supported by this daemon");
        }
    }

    /** A PAGE_DATA record's entries (its pages follow through {@link #page}): PFN bounds, data-less entries. */
    private void applyEntries(PageData pd) throws StreamException, HypervisorException {
        if (shape.guestType() == GuestType.PV && !p2mFrames) {
            throw bad(RecordType.PAGE_DATA, "memory before X86_PV_P2M_FRAMES");
        }
        GuestMemory memory = domain.memory();
        for (int i = 0; i < pd.count(); i++) {
            long pfn = pd.pfn(i);
            if (pfn >= shape.p2mSize()) {
                throw bad(RecordType.PAGE_DATA, "pfn 0x" + Long.toHexString(pfn) + " beyond p2m_size 0x"
                        + Long.toHexString(shape.p2mSize()));
            }
            PageType t = pd.pageType(i);
            if (!t.hasData() && !verifying) {
                memory.populateOnly(pfn, t);
            }
        }
    }

    /** One data page, straight from the fed buffer into the domain's memory (or compared, in verify mode). */
    private void page(PageData record, int entry, ByteBuffer page) {
        if (failure != null) {
            throw failure;
        }
        try {
            long pfn = record.pfn(entry);
            MemorySegment src = MemorySegment.ofBuffer(page);
            if (verifying) {
                verify.compare(domain, pfn, src);
            } else {
                domain.memory().writePage(pfn, record.pageType(entry), src);
                pages++;
            }
        } catch (HypervisorException e) {
            failure = new StreamApplier.Failure(e);
            throw failure;
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
