package dev.migrationd.daemon.engine.guest;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * HVM guests (Xen's {@code x86_hvm} save and restore ops): nothing but STATIC_DATA_END up front; HVM params
 * (legacy: one chunk each, and the magic PFNs in the tail), the HVM context blob and, legacy only, the
 * device model's record after the last page.
 */
final class HvmOps {

    /** {@code HVM_PARAM_*} index of each legacy HVM-param chunk (docs/wire-format-legacy.md §6). */
    static final Map<ChunkType, Integer> HVM_PARAM_INDEX = new EnumMap<>(Map.ofEntries(
            Map.entry(ChunkType.HVM_IDENT_PT, (int) HvmParams.HVM_PARAM_IDENT_PT),
            Map.entry(ChunkType.HVM_VM86_TSS, (int) HvmParams.HVM_PARAM_VM86_TSS),
            Map.entry(ChunkType.HVM_CONSOLE_PFN, (int) HvmParams.HVM_PARAM_CONSOLE_PFN),
            Map.entry(ChunkType.HVM_ACPI_IOPORTS_LOCATION, (int) HvmParams.HVM_PARAM_ACPI_IOPORTS_LOCATION),
            Map.entry(ChunkType.HVM_VIRIDIAN, (int) HvmParams.HVM_PARAM_VIRIDIAN),
            Map.entry(ChunkType.HVM_GENERATION_ID_ADDR, (int) HvmParams.HVM_PARAM_VM_GENERATION_ID_ADDR),
            Map.entry(ChunkType.HVM_PAGING_RING_PFN, (int) HvmParams.HVM_PARAM_PAGING_RING_PFN),
            Map.entry(ChunkType.HVM_ACCESS_RING_PFN, (int) HvmParams.HVM_PARAM_MONITOR_RING_PFN),
            Map.entry(ChunkType.HVM_SHARING_RING_PFN, (int) HvmParams.HVM_PARAM_SHARING_RING_PFN),
            Map.entry(ChunkType.HVM_IOREQ_SERVER_PFN, (int) HvmParams.HVM_PARAM_IOREQ_SERVER_PFN),
            Map.entry(ChunkType.HVM_NR_IOREQ_SERVER_PAGES, (int) HvmParams.HVM_PARAM_NR_IOREQ_SERVER_PAGES)));
    static final int HVM_PARAM_STORE_PFN = (int) HvmParams.HVM_PARAM_STORE_PFN;
    static final int HVM_PARAM_IOREQ_PFN = (int) HvmParams.HVM_PARAM_IOREQ_PFN;
    static final int HVM_PARAM_BUFIOREQ_PFN = (int) HvmParams.HVM_PARAM_BUFIOREQ_PFN;
    /** {@code HVM_PARAM_X87_FIP_WIDTH}. */
    static final long HVM_PARAM_X87_FIP_WIDTH = 36;
    /** {@code HVM_PARAM_VM86_TSS_SIZED}. */
    static final long HVM_PARAM_VM86_TSS_SIZED = 37;
    /** {@code HVM_PARAM_MCA_CAP}. */
    static final long HVM_PARAM_MCA_CAP = 38;

    /** HVM params a native v2 saver sends (docs/wire-format-v2.md §2.6), in its order; zero values are left out. */
    static final long[] HVM_PARAMS_SENT = {HvmParams.HVM_PARAM_STORE_PFN, HvmParams.HVM_PARAM_IOREQ_PFN,
            HvmParams.HVM_PARAM_BUFIOREQ_PFN, HvmParams.HVM_PARAM_PAGING_RING_PFN, HvmParams.HVM_PARAM_MONITOR_RING_PFN,
            HvmParams.HVM_PARAM_SHARING_RING_PFN, HVM_PARAM_VM86_TSS_SIZED, HvmParams.HVM_PARAM_CONSOLE_PFN,
            HvmParams.HVM_PARAM_ACPI_IOPORTS_LOCATION, HvmParams.HVM_PARAM_VIRIDIAN, HvmParams.HVM_PARAM_IDENT_PT,
            HvmParams.HVM_PARAM_VM_GENERATION_ID_ADDR, HvmParams.HVM_PARAM_IOREQ_SERVER_PFN,
            HvmParams.HVM_PARAM_NR_IOREQ_SERVER_PAGES, HVM_PARAM_X87_FIP_WIDTH, HVM_PARAM_MCA_CAP,
            HvmParams.HVM_PARAM_VM86_TSS};

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
            w.writeHeader(new LegacyItem.HvmHeader(info.p2mSize()));
        }

        @Override
        public void writeLegacyEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            w.writeVcpuInfo(GuestOps.vcpuInfo(p.onlineVcpus()));
            Map<Integer, Long> params = p.hvmParams();
            List<ChunkType> order = new ArrayList<>(HVM_PARAM_INDEX.keySet());
            order.sort(Comparator.comparingInt(ChunkType::hvmParamRank));
            for (ChunkType t : order) {
                long v = params.getOrDefault(HVM_PARAM_INDEX.get(t), 0L);
                if (v != 0) {
                    w.writeHvmParam(new LegacyItem.HvmParam(t, v));
                }
            }
            w.writeMarker(ChunkType.LAST_CHECKPOINT);
            w.writeEndOfBody();
        }

        @Override
        public void writeLegacyTail(LegacyStreamWriter w) throws IOException, HypervisorException {
            PlatformState p = domain.platform();
            Map<Integer, Long> params = p.hvmParams();
            w.writeMagicPfns(new LegacyItem.HvmMagicPfns(params.getOrDefault(HVM_PARAM_IOREQ_PFN, 0L),
                    params.getOrDefault(HVM_PARAM_BUFIOREQ_PFN, 0L), params.getOrDefault(HVM_PARAM_STORE_PFN, 0L)));
            w.writeHvmContext(new LegacyItem.HvmContext(Bytes.of(p.hvmContext())));
            w.writeQemuRecord(new LegacyItem.QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.of(EMPTY_QEMU_STATE)));
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
            for (long index : HVM_PARAMS_SENT) {
                long v = params.getOrDefault((int) index, 0L);
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
                case LegacyItem.HvmHeader h -> requireOfferP2mSize(item, h.p2mSize());
                case LegacyItem.HvmParam hp -> p.setHvmParam(HVM_PARAM_INDEX.get(hp.type()), hp.value());
                case LegacyItem.HvmMagicPfns m -> {
                    p.setHvmParam(HVM_PARAM_IOREQ_PFN, m.ioreqPfn());
                    p.setHvmParam(HVM_PARAM_BUFIOREQ_PFN, m.bufioreqPfn());
                    p.setHvmParam(HVM_PARAM_STORE_PFN, m.storePfn());
                }
                case LegacyItem.HvmContext c -> p.setHvmContext(c.blob().toArray());
                case LegacyItem.QemuRecord q -> {
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
