package dev.migrationd.daemon.engine.guest;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.x86.HvmParamIndex;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * HVM guests (Xen's {@code x86_hvm} save and restore ops): nothing but STATIC_DATA_END up front; HVM params
 * (legacy: one chunk each, and the magic PFNs in the tail), the HVM context blob and, legacy only, the
 * device model's record after the last page.
 */
final class HvmOps {

    /** HVM params a native v2 saver sends (docs/wire-format-v2.md §2.6), in its order; zero values are left out. */
    static final int[] HVM_PARAMS_SENT = {
        HvmParamIndex.HVM_PARAM_STORE_PFN, HvmParamIndex.HVM_PARAM_IOREQ_PFN, HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN,
        HvmParamIndex.HVM_PARAM_PAGING_RING_PFN, HvmParamIndex.HVM_PARAM_MONITOR_RING_PFN,
        HvmParamIndex.HVM_PARAM_SHARING_RING_PFN, HvmParamIndex.HVM_PARAM_VM86_TSS_SIZED,
        HvmParamIndex.HVM_PARAM_CONSOLE_PFN, HvmParamIndex.HVM_PARAM_ACPI_IOPORTS_LOCATION,
        HvmParamIndex.HVM_PARAM_VIRIDIAN, HvmParamIndex.HVM_PARAM_IDENT_PT, HvmParamIndex.HVM_PARAM_VM_GENERATION_ID_ADDR,
        HvmParamIndex.HVM_PARAM_IOREQ_SERVER_PFN, HvmParamIndex.HVM_PARAM_NR_IOREQ_SERVER_PAGES,
        HvmParamIndex.HVM_PARAM_X87_FIP_WIDTH, HvmParamIndex.HVM_PARAM_MCA_CAP, HvmParamIndex.HVM_PARAM_VM86_TSS};

    /** Highest HVM param index accepted (Xen 4.17 defines indexes below 39; HVM_NR_PARAMS is 64-bounded). */
    static final int MAX_HVM_PARAM_INDEX = 63;

    /**
     * The device-model state sent in the legacy QEMU record. The hypervisor interface carries no device
     * model, so the record holds an empty QEMU savevm file: magic "QEVM", version 3, QEMU_VM_EOF.
     */
    static final byte[] EMPTY_QEMU_STATE = {'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0};

    private HvmOps() {
    }

    /** Source side. Owned by the stream's thread. */
    static final class Source extends GuestOps.Source {
        Source(Domain domain, DomainInfo info) {
            super(domain, info);
        }

        @Override
        public void writeLegacyHeader(LegacyStreamWriter w) throws IOException {
            w.write(new HvmHeader(info.p2mSize()));
        }

        @Override
        public void writeLegacyEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(GuestOps.vcpuInfo(p.onlineVcpus()));
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
        public void writeLegacyTail(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.write(HvmMagicPfns.fromHvmParams(p.hvmParams()));
            w.write(new HvmTailContext(Bytes.of(p.hvmContext())));
            w.write(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.of(EMPTY_QEMU_STATE)));
        }

        @Override
        public void writeV2StaticData(LibxcWriter w) throws IOException {
            w.write(SignalRecord.STATIC_DATA_END);
        }

        @Override
        public void writeV2Tail(LibxcWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            Map<Integer, Long> params = p.hvmParams();
            List<HvmParams.Param> sent = new ArrayList<>();
            for (int index : HVM_PARAMS_SENT) {
                long v = params.getOrDefault(index, 0L);
                if (v != 0) {
                    sent.add(new HvmParams.Param(index, v));
                }
            }
            if (!sent.isEmpty()) {
                w.write(new HvmParams(sent));
            }
            w.write(new BlobRecord(RecordType.HVM_CONTEXT, ByteBuffer.wrap(p.hvmContext())));
        }
    }

    /**
     * Destination side: checks each item against the offer (p2m size) and, in v2, that HVM_CONTEXT came
     * before END. Owned by the stream's thread.
     */
    static final class Destination extends GuestOps.Destination {
        private boolean hvmContext;

        Destination(Domain domain, DomainShape shape, LongSupplier offset) {
            super(domain, shape, offset);
        }

        @Override
        public void applyLegacy(LegacyItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case HvmHeader h -> requireOfferP2mSize(item, h.p2mSize());
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
                default -> throw mismatch(item, "not expected in an HVM stream");
            }
        }

        @Override
        public boolean applyV2(LibxcItem item) throws StreamException, HypervisorException {
            PlatformState p = domain.platform();
            switch (item) {
                case HvmParams hp -> {
                    for (HvmParams.Param param : hp.params()) {
                        if (param.index() < 0 || param.index() > MAX_HVM_PARAM_INDEX) {
                            throw bad(RecordType.HVM_PARAMS, "unknown HVM param index " + param.index());
                        }
                        p.setHvmParam((int) param.index(), param.value());
                    }
                }
                case BlobRecord b when b.type() == RecordType.HVM_CONTEXT -> {
                    p.setHvmContext(GuestOps.bytes(b.data()));
                    hvmContext = true;
                }
                default -> {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void checkV2Memory() {
        }

        @Override
        public void checkV2End() throws StreamException {
            if (!hvmContext) {
                throw bad(RecordType.END, "HVM stream without HVM_CONTEXT");
            }
        }

        @Override
        public void complete() {
        }
    }
}
