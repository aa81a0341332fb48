package dev.migrationd.daemon.engine.guest;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.v2.X86PvInfo;
import dev.migrationd.protocol.v2.X86PvP2mFrames;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.LongSupplier;

/**
 * PV guests (Xen's {@code x86_pv} save and restore ops): the p2m frame list and guest width up front; vCPU
 * contexts (basic, extended, XSAVE) and the shared-info page after the last page; unmapped PFNs in the
 * legacy tail.
 */
final class PvOps {

    private PvOps() {
    }

    /** Source side. Owned by the stream's thread. */
    static final class Source extends GuestOps.Source {
        /** Legacy: the XSAVE record length the header announced (0: none), which every vCPU's record has. */
        private int xsaveLen;

        Source(Domain domain, DomainInfo info) {
            super(domain, info);
        }

        @Override
        public void writeLegacyHeader(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            byte[] xsave0 = p.pvXsave(0);
            xsaveLen = xsave0.length == 0 ? 0 : LegacyFormat.XSAVE_RECORD_HEADER + xsave0.length;
            w.write(new PvHeader(info.p2mSize(), Bytes.of(p.pvVcpuContext(0)), true, xsaveLen,
                    p.p2mFrameList()));
        }

        @Override
        public void writeLegacyEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException {
            w.write(GuestOps.vcpuInfo(domain.platform().onlineVcpus()));
            w.writeMarker(ChunkType.LAST_CHECKPOINT);
            w.writeEndOfBody();
        }

        @Override
        public void writeLegacyTail(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(new PvUnmappedPfns(new long[0]));
            for (int vcpu : GuestOps.vcpuInfo(p.onlineVcpus()).onlineVcpus()) {
                XsaveRecord xsave = null;
                if (xsaveLen != 0) {
                    byte[] area = p.pvXsave(vcpu);
                    int size = xsaveLen - LegacyFormat.XSAVE_RECORD_HEADER;
                    if (area.length != 0 && area.length != size) {
                        throw new HypervisorException("pvXsave", info.name(), "vcpu " + vcpu + " XSAVE record of "
                                + area.length + " bytes differs from vcpu0's " + size);
                    }
                    // mask 0 and a zeroed area for a vcpu without XSAVE state keeps the tail in sync (docs/wire-format-legacy.md §7.1)
                    long mask = area.length >= 8 ? ByteBuffer.wrap(area).order(ByteOrder.LITTLE_ENDIAN).getLong(0) : 0;
                    xsave = new XsaveRecord(mask, area.length == 0 ? new byte[size] : area);
                }
                w.write(new PvVcpuRecord(vcpu, Bytes.of(p.pvVcpuContext(vcpu)),
                        Bytes.of(p.pvExtendedContext(vcpu)), xsave));
            }
            w.write(new PvSharedInfo(Bytes.of(p.sharedInfo())));
        }

        @Override
        public void writeV2StaticData(LibxcWriter w) throws IOException, HypervisorException {
            w.write(info.guestWidth() == Width.W64 ? X86PvInfo.GUEST_64 : X86PvInfo.GUEST_32);
            w.write(SignalRecord.STATIC_DATA_END);
            w.write(new X86PvP2mFrames(0, info.p2mSize() - 1, domain.platform().p2mFrameList()));
        }

        @Override
        public void writeV2Tail(LibxcWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(new SharedInfoRecord(ByteBuffer.wrap(p.sharedInfo())));
            for (int vcpu : GuestOps.vcpuInfo(p.onlineVcpus()).onlineVcpus()) {
                w.write(new VcpuRecord(RecordType.X86_PV_VCPU_BASIC, vcpu, ByteBuffer.wrap(p.pvVcpuContext(vcpu))));
                byte[] ext = p.pvExtendedContext(vcpu);
                if (ext.length != 0) {
                    w.write(new VcpuRecord(RecordType.X86_PV_VCPU_EXTENDED, vcpu, ByteBuffer.wrap(ext)));
                }
                byte[] xsave = p.pvXsave(vcpu);
                if (xsave.length != 0) {
                    w.write(new VcpuRecord(RecordType.X86_PV_VCPU_XSAVE, vcpu, ByteBuffer.wrap(xsave)));
                }
            }
        }
    }

    /**
     * Destination side: checks each item against the offer (width, p2m size, vCPU count) and the v2 record
     * dependencies (X86_PV_INFO and X86_PV_P2M_FRAMES before memory; SHARED_INFO and vCPU 0 before END).
     * Owned by the stream's thread.
     */
    static final class Destination extends GuestOps.Destination {
        private boolean pvInfo;
        private boolean p2mFrames;
        private boolean sharedInfo;
        private boolean vcpu0;

        Destination(Domain domain, DomainShape shape, LongSupplier offset) {
            super(domain, shape, offset);
        }

        @Override
        public void applyLegacy(LegacyItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case PvHeader h -> {
                    requireOfferP2mSize(item, h.p2mSize());
                    requireOfferWidth(item.itemName(), 0, h.guestWidth());
                    p.setP2mFrameList(h.p2mFrames());
                }
                case PvUnmappedPfns u -> {
                    for (long pfn : u.pfns()) {
                        domain.memory().populateOnly(pfn, PageType.XTAB);
                    }
                }
                case PvVcpuRecord v -> {
                    if (v.vcpuId() >= shape.vcpus()) {
                        throw mismatch(item, "vcpu " + v.vcpuId() + " beyond the offer's " + shape.vcpus());
                    }
                    p.setPvVcpuContext(v.vcpuId(), v.context().toArray());
                    if (v.extContext() != null) {
                        p.setPvExtendedContext(v.vcpuId(), v.extContext().toArray());
                    }
                    if (v.xsave() != null) {
                        p.setPvXsave(v.vcpuId(), v.xsave().xfeatureMask() == 0 ? new byte[0] : v.xsave().buffer());
                    }
                }
                case PvSharedInfo s -> p.setSharedInfo(s.page().toArray());
                default -> throw mismatch(item, "not expected in a PV stream");
            }
        }

        @Override
        public boolean applyV2(LibxcItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case X86PvInfo i -> {
                    requireOfferWidth(RecordType.X86_PV_INFO.name(), RecordType.X86_PV_INFO.code(),
                            i.guestWidth() == 8 ? Width.W64 : Width.W32);
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
                case SharedInfoRecord s -> {
                    p.setSharedInfo(GuestOps.bytes(s.page()));
                    sharedInfo = true;
                }
                case VcpuRecord v -> applyVcpu(v, p);
                default -> {
                    return false;
                }
            }
            return true;
        }

        private void applyVcpu(VcpuRecord v, PlatformState p) throws StreamException, HypervisorException {
            if (v.vcpuId() >= shape.vcpus()) {
                throw bad(v.type(), "vcpu " + v.vcpuId() + " beyond the offer's " + shape.vcpus());
            }
            byte[] data = GuestOps.bytes(v.data());
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

        @Override
        public void checkV2Memory() throws StreamException {
            if (!p2mFrames) {
                throw bad(RecordType.PAGE_DATA, "memory before X86_PV_P2M_FRAMES");
            }
        }

        @Override
        public void checkV2End() throws StreamException {
            if (!sharedInfo || !vcpu0) {
                throw bad(RecordType.END, "PV stream without " + (sharedInfo ? "vcpu 0's context" : "SHARED_INFO"));
            }
        }

        @Override
        public void complete() {
        }

        private void requireOfferWidth(String item, long code, Width width) throws RecordException {
            if (width != shape.guestWidth()) {
                throw new RecordException(item, code, offset(), "guest width " + width.bits()
                        + " differs from the offer's " + shape.guestWidth().bits());
            }
        }
    }
}
