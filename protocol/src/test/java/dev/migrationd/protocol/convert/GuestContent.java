package dev.migrationd.protocol.convert;

import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmParam;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.v2.BlobRecord;
import dev.migrationd.protocol.v2.EmulatorRecord;
import dev.migrationd.protocol.v2.HvmParams;
import dev.migrationd.protocol.v2.LibxlRecordType;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SharedInfoRecord;
import dev.migrationd.protocol.v2.TscInfoRecord;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.VcpuRecord;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a stream says about a guest, independent of the format: pages and their types (last copy wins),
 * vCPU contexts, HVM params (in order), TSC info, HVM context, shared info, device-model state, unmapped PFNs.
 * Built from legacy items or from v2 items, then compared.
 */
final class GuestContent {
    final Map<Long, PageType> types = new TreeMap<>();
    final Map<Long, ByteBuffer> pages = new TreeMap<>();
    final Map<String, ByteBuffer> vcpus = new TreeMap<>();
    final List<HvmParams.Param> params = new ArrayList<>();
    final List<Long> unmapped = new ArrayList<>();
    TscInfo tsc;
    ByteBuffer hvmContext;
    ByteBuffer sharedInfo;
    ByteBuffer qemu;

    static ByteBuffer copy(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return ByteBuffer.wrap(a);
    }

    void page(long pfn, PageType t, ByteBuffer data) {
        types.put(pfn, t);
        if (data != null) {
            pages.put(pfn, copy(data));
        } else {
            pages.remove(pfn);
        }
    }

    /** Adds a legacy item (XTAB entries without a PFN carry nothing). */
    void add(LegacyItem item) {
        switch (item) {
            case PageBatch b -> {
                for (int i = 0; i < b.count(); i++) {
                    if (b.type(i) == PageType.XTAB) {
                        continue;
                    }
                    page(b.pfn(i), b.type(i), b.hasData(i) ? b.page(i) : null);
                }
            }
            case TscInfoChunk t -> tsc = t.tsc();
            case HvmParam p -> params.add(new HvmParams.Param(
                    p.type().hvmParamIndex(), p.value()));
            case HvmMagicPfns m -> params.addAll(List.of(new HvmParams.Param(5, m.ioreqPfn()),
                    new HvmParams.Param(6, m.bufioreqPfn()), new HvmParams.Param(1, m.storePfn())));
            case HvmTailContext c -> hvmContext = copy(c.blob().asByteBuffer());
            case PvSharedInfo s -> sharedInfo = copy(s.page().asByteBuffer());
            case PvVcpuRecord v -> {
                vcpus.put("basic/" + v.vcpuId(), copy(v.context().asByteBuffer()));
                if (v.extContext() != null) {
                    vcpus.put("extended/" + v.vcpuId(), copy(v.extContext().asByteBuffer()));
                }
                if (v.xsave() != null) {
                    vcpus.put("xsave/" + v.vcpuId(), copy(ByteBuffer.wrap(v.xsave().buffer())));
                }
            }
            case PvUnmappedPfns u -> {
                for (long p : u.pfns()) {
                    unmapped.add(p);
                }
            }
            case QemuRecord q -> qemu = copy(q.state().asByteBuffer());
            default -> { }
        }
    }

    /**
     * Adds a v2 item. XTAB entries with a PFN are our converter's unmapped PFNs: collected in {@link #unmapped}
     * when {@code xtabAsUnmapped}.
     */
    void add(V2Item item, boolean xtabAsUnmapped) {
        switch (item) {
            case PageData d -> {
                for (int i = 0; i < d.count(); i++) {
                    if (d.pageType(i) == PageType.XTAB && xtabAsUnmapped) {
                        unmapped.add(d.pfn(i));
                        continue;
                    }
                    page(d.pfn(i), d.pageType(i), d.pageType(i).hasData() ? d.page(i) : null);
                }
            }
            case TscInfoRecord t -> tsc = t.tsc();
            case HvmParams p -> params.addAll(p.params());
            case BlobRecord b when b.type() == RecordType.HVM_CONTEXT -> hvmContext = copy(b.data());
            case SharedInfoRecord s -> sharedInfo = copy(s.page());
            case VcpuRecord v -> vcpus.put(switch (v.type()) {
                case X86_PV_VCPU_BASIC -> "basic/";
                case X86_PV_VCPU_EXTENDED -> "extended/";
                case X86_PV_VCPU_XSAVE -> "xsave/";
                default -> "msrs/";
            } + v.vcpuId(), copy(v.data()));
            case EmulatorRecord e when e.type() == LibxlRecordType.EMULATOR_CONTEXT -> qemu = copy(e.data());
            default -> { }
        }
    }

    /** Field-by-field comparison, naming the first difference. */
    static void assertSame(GuestContent want, GuestContent got, String what) {
        org.junit.jupiter.api.Assertions.assertAll(what,
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.types, got.types, what + ": page types"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.pages.keySet(), got.pages.keySet(),
                        what + ": pages with data"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.pages, got.pages, what + ": page contents"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.vcpus, got.vcpus, what + ": vcpu contexts"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.params, got.params, what + ": HVM params"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.tsc, got.tsc, what + ": TSC info"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.hvmContext, got.hvmContext, what + ": HVM context"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.sharedInfo, got.sharedInfo, what + ": shared info"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.qemu, got.qemu, what + ": device model state"),
                () -> org.junit.jupiter.api.Assertions.assertEquals(want.unmapped, got.unmapped, what + ": unmapped pfns"));
    }
}
