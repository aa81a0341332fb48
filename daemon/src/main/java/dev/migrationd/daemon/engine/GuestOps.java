package dev.migrationd.daemon.engine;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.Toolstack;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.Map;

/**
 * What differs between PV and HVM guests, on both ends (STYLE.md 10, after Xen's {@code xc_sr_save_ops}
 * / {@code xc_sr_restore_ops}): the stream header, the per-type chunks before the end of the body, the
 * tail, and the destination's handling of each. The generic loops ({@link OutgoingMigration},
 * {@link StreamApplier}) know no guest type.
 */
final class GuestOps {

    private GuestOps() {
    }

    /** Source side. One instance per stream; methods are called once each, in this order. */
    interface Save {
        /** The header (static data) before any page. */
        void writeHeader(LegacyStreamWriter w) throws IOException, HypervisorException;

        /** After the last page batch (guest paused): VCPU_INFO, per-type chunks, LAST_CHECKPOINT, end of body. */
        void writeEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException;

        /** The tail: vCPU and platform state (guest paused). */
        void writeTail(LegacyStreamWriter w) throws IOException, HypervisorException;
    }

    /** Destination side: the per-type items of the stream, and the state applied once it is complete. */
    interface Restore {
        /** A header, metadata or tail item the generic applier does not handle itself. */
        void accept(LegacyItem item) throws StreamException, HypervisorException;

        /** The whole stream arrived: apply the collected vCPU and platform state to the (paused) domain. */
        void complete() throws HypervisorException, StreamException;
    }

    static Save save(Domain domain, DomainInfo info) {
        return info.guestType() == GuestType.PV ? new PvSave(domain, info) : new HvmSave(domain, info);
    }

    static Restore restore(Domain domain, DomainShape shape) {
        return shape.guestType() == GuestType.PV ? new PvRestore(domain, shape) : new HvmRestore(domain, shape);
    }

    /**
     * The device-model state sent in the QEMU record. The hypervisor interface carries no device model,
     * so the record holds an empty QEMU savevm file: magic "QEVM", version 3, QEMU_VM_EOF.
     */
    static final byte[] EMPTY_QEMU_STATE = {'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0};

    static VcpuInfo vcpuInfo(BitSet online) {
        BitSet o = (BitSet) online.clone();
        o.set(0); // vcpu0 is always online (legacy-stream.md §6.2)
        return VcpuInfo.ofOnline(o.stream().toArray());
    }

    private static final class HvmSave implements Save {
        private final Domain domain;
        private final DomainInfo info;

        HvmSave(Domain domain, DomainInfo info) {
            this.domain = domain;
            this.info = info;
        }

        @Override
        public void writeHeader(LegacyStreamWriter w) throws IOException {
            w.write(new HvmHeader(info.p2mSize()));
        }

        @Override
        public void writeEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(vcpuInfo(p.onlineVcpus()));
            Map<Integer, Long> params = p.hvmParams();
            for (ChunkType t : ChunkType.hvmParamChunks()) {
                long v = params.getOrDefault(t.hvmParamIndex(), 0L);
                if (v != 0) {
                    w.write(new HvmParam(t, v));
                }
            }
            w.writeMarker(ChunkType.LAST_CHECKPOINT);
            w.writeEndOfBody();
        }

        @Override
        public void writeTail(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(HvmMagicPfns.fromHvmParams(p.hvmParams()));
            w.write(new HvmTailContext(Bytes.of(p.hvmContext())));
            w.write(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.of(EMPTY_QEMU_STATE)));
        }
    }

    private static final class PvSave implements Save {
        private final Domain domain;
        private final DomainInfo info;
        private int xsaveLen;

        PvSave(Domain domain, DomainInfo info) {
            this.domain = domain;
            this.info = info;
        }

        @Override
        public void writeHeader(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            byte[] xsave0 = p.pvXsave(0);
            xsaveLen = xsave0.length == 0 ? 0 : LegacyFormat.XSAVE_RECORD_HEADER + xsave0.length;
            w.write(new PvHeader(info.p2mSize(), Bytes.of(p.pvVcpuContext(0)), true, xsaveLen,
                    p.p2mFrameList()));
        }

        @Override
        public void writeEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException {
            w.write(vcpuInfo(domain.platform().onlineVcpus()));
            w.writeMarker(ChunkType.LAST_CHECKPOINT);
            w.writeEndOfBody();
        }

        @Override
        public void writeTail(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(new PvUnmappedPfns(new long[0]));
            for (int vcpu : vcpuInfo(p.onlineVcpus()).onlineVcpus()) {
                XsaveRecord xsave = null;
                if (xsaveLen != 0) {
                    byte[] area = p.pvXsave(vcpu);
                    int size = xsaveLen - LegacyFormat.XSAVE_RECORD_HEADER;
                    if (area.length != 0 && area.length != size) {
                        throw new HypervisorException("pvXsave", info.name(), "vcpu " + vcpu + " XSAVE record of "
                                + area.length + " bytes differs from vcpu0's " + size);
                    }
                    // mask 0 and a zeroed area for a vcpu without XSAVE state keeps the tail in sync (§7.1)
                    long mask = area.length >= 8 ? ByteBuffer.wrap(area).order(ByteOrder.LITTLE_ENDIAN).getLong(0) : 0;
                    xsave = new XsaveRecord(mask, area.length == 0 ? new byte[size] : area);
                }
                w.write(new PvVcpuRecord(vcpu, Bytes.of(p.pvVcpuContext(vcpu)),
                        Bytes.of(p.pvExtendedContext(vcpu)), xsave));
            }
            w.write(new PvSharedInfo(Bytes.of(p.sharedInfo())));
        }
    }

    private static RecordException mismatch(String item, String problem) {
        return new RecordException(item, 0, -1, problem);
    }

    /** The stream's header must describe the guest the offer announced. */
    private static void requireOfferP2mSize(LegacyItem header, long p2mSize, DomainShape shape) throws RecordException {
        if (p2mSize != shape.p2mSize()) {
            throw mismatch(header.itemName(), "p2m_size 0x" + Long.toHexString(p2mSize)
                    + " differs from the offer's 0x" + Long.toHexString(shape.p2mSize()));
        }
    }

    private static final class HvmRestore implements Restore {
        private final Domain domain;
        private final DomainShape shape;

        HvmRestore(Domain domain, DomainShape shape) {
            this.domain = domain;
            this.shape = shape;
        }

        @Override
        public void accept(LegacyItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case HvmHeader h -> {
                    requireOfferP2mSize(item, h.p2mSize(), shape);
                }
                case HvmParam hp -> p.setHvmParam(hp.type().hvmParamIndex(), hp.value());
                case HvmMagicPfns m -> {
                    for (Map.Entry<Integer, Long> e : m.hvmParams().entrySet()) {
                        p.setHvmParam(e.getKey(), e.getValue());
                    }
                }
                case HvmTailContext c -> p.setHvmContext(c.blob().toArray());
                case QemuRecord q -> {
                    // no device model behind the hypervisor interface: the record is validated by the reader only
                }
                case Toolstack t -> {
                }
                default -> throw mismatch(item.itemName(), "not expected in an HVM stream");
            }
        }

        @Override
        public void complete() {
        }
    }

    private static final class PvRestore implements Restore {
        private final Domain domain;
        private final DomainShape shape;

        PvRestore(Domain domain, DomainShape shape) {
            this.domain = domain;
            this.shape = shape;
        }

        @Override
        public void accept(LegacyItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case PvHeader h -> {
                    requireOfferP2mSize(item, h.p2mSize(), shape);
                    Width gw = h.guestWidth();
                    if (gw != shape.guestWidth()) {
                        throw mismatch(item.itemName(), "guest width " + gw.bits() + " differs from the offer's "
                                + shape.guestWidth().bits());
                    }
                    p.setP2mFrameList(h.p2mFrames());
                }
                case PvUnmappedPfns u -> {
                    for (long pfn : u.pfns()) {
                        domain.memory().populateOnly(pfn, dev.migrationd.protocol.PageType.XTAB);
                    }
                }
                case PvVcpuRecord v -> {
                    if (v.vcpuId() >= shape.vcpus()) {
                        throw mismatch(item.itemName(), "vcpu " + v.vcpuId() + " beyond the offer's " + shape.vcpus());
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
                case Toolstack t -> {
                }
                default -> throw mismatch(item.itemName(), "not expected in a PV stream");
            }
        }

        @Override
        public void complete() {
        }
    }
}
