package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.Bytes;
import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.HvmHeader;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import dev.migrationd.protocol.legacy.HvmTailContext;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.PageBatch;
import dev.migrationd.protocol.legacy.PvHeader;
import dev.migrationd.protocol.legacy.PvSharedInfo;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.legacy.PvVcpuRecord;
import dev.migrationd.protocol.legacy.QemuRecord;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.legacy.TscInfoChunk;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.testing.XenTools;
import dev.migrationd.protocol.x86.HvmParamIndex;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Live save of a running sim guest into a legacy stream with the protocol writer (a small test-only saver),
 * checked by Xen's own convert-legacy-stream and verify-stream-v2, then restored with the protocol reader
 * into a new sim domain on another host: identical memory and state, the workload continues.
 */
class SimLegacyStreamTest {

    @TempDir
    Path tmp;

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of(GuestType.HVM, Width.W64), Arguments.of(GuestType.PV, Width.W64),
                Arguments.of(GuestType.PV, Width.W32));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("shapes")
    void saveToAStreamAndRestoreIntoANewDomain(GuestType type, Width width) throws Exception {
        try (SimHypervisor a = SimHypervisor.open(tmp.resolve("a")); SimHypervisor b = SimHypervisor.open(tmp.resolve("b"))) {
            SimDomain src = a.create(SimDomainSpec.of("vm", 4 * SimTestSupport.MIB, 2, type, width,
                    WorkloadSpec.of(20 * SimTestSupport.MIB, 1.0, 0, WorkloadSpec.Pattern.AB)));
            SimTestSupport.await("the workload to run", 5000, () -> SimTestSupport.counter(src) > 1000);
            byte[] stream = save(src, 2);
            long counter = src.workloadCounter();

            Path file = tmp.resolve("vm.legacy");
            Files.write(file, stream);
            XenTools.Result conv = XenTools.require().convertLegacy(file, tmp.resolve("vm.v2"), Width.W64, type, "libxc");
            assertTrue(conv.ok(), "convert-legacy-stream rejected the sim's stream:\n" + conv.output());
            XenTools.Result ver = XenTools.require().verifyV2(tmp.resolve("vm.v2"), "libxc");
            assertTrue(ver.ok(), "verify-stream-v2 rejected the converted stream:\n" + ver.output());

            DomainInfo info = src.info();
            Domain dst = b.createForRestore(new DomainShape("vm", info.uuid(), info.p2mSize(), info.vcpus(),
                    info.guestType(), info.guestWidth()));
            restore(dst, stream, type);
            SimDomain sdst = b.simDomain("vm");
            assertEquals(src.memoryHash(), sdst.memoryHash(), "memory differs after the stream restore");
            assertEquals(counter, sdst.workloadCounter());
            if (type == GuestType.PV) {
                for (int v = 0; v < 2; v++) {
                    assertArrayEquals(src.platform().pvVcpuContext(v), dst.platform().pvVcpuContext(v));
                    assertArrayEquals(src.platform().pvExtendedContext(v), dst.platform().pvExtendedContext(v));
                }
                assertArrayEquals(src.platform().p2mFrameList(), dst.platform().p2mFrameList());
                assertArrayEquals(src.platform().sharedInfo(), dst.platform().sharedInfo());
            } else {
                assertArrayEquals(src.platform().hvmContext(), dst.platform().hvmContext());
                assertEquals(src.platform().hvmParams(), dst.platform().hvmParams());
            }
            assertEquals(src.platform().tscInfo(), dst.platform().tscInfo());
            dst.resume();
            SimTestSupport.await("the restored workload to continue", 5000,
                    () -> SimTestSupport.counter(sdst) > counter + 1000);
            dst.pause();
            var ab = sdst.checkAb();
            assertTrue(ab.ok(), ab.message());
        }
    }

    /** Test-only live saver: round 0, {@code rounds} dirty rounds, then pause, final round and the tail. */
    private static byte[] save(SimDomain src, int rounds) throws IOException, HypervisorException {
        DomainInfo info = src.info();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        var ch = Channels.newChannel(out);
        LegacyStreamWriter w = new LegacyStreamWriter(buf -> {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }, Width.W64, info.guestType());
        PlatformState ps = src.platform();
        if (info.guestType() == GuestType.PV) {
            w.write(new PvHeader(info.p2mSize(), Bytes.of(ps.pvVcpuContext(0)), true, 0,
                    ps.p2mFrameList()));
        } else {
            w.write(new HvmHeader(info.p2mSize()));
        }
        try (DirtyBitmap bm = new DirtyBitmap(info.p2mSize())) {
            src.dirtyLog().enable();
            src.memory().populated(bm);
            sendPages(w, src.memory(), bm);
            for (int r = 0; r < rounds; r++) {
                SimTestSupport.sleepQuietly(20);
                src.dirtyLog().fetchAndClear(bm);
                sendPages(w, src.memory(), bm);
            }
            SimTestSupport.sleepQuietly(20);
            src.pause();
            w.writeTscInfo(ps.tscInfo());
            src.dirtyLog().fetchAndClear(bm);
            sendPages(w, src.memory(), bm);
            src.dirtyLog().disable();
        }
        int[] online = ps.onlineVcpus().stream().toArray();
        w.write(VcpuInfo.ofOnline(online));
        w.writeMarker(ChunkType.LAST_CHECKPOINT);
        w.writeEndOfBody();
        if (info.guestType() == GuestType.PV) {
            w.write(new PvUnmappedPfns(new long[0]));
            for (int v : online) {
                w.write(new PvVcpuRecord(v, Bytes.of(ps.pvVcpuContext(v)),
                        Bytes.of(ps.pvExtendedContext(v)), null));
            }
            w.write(new PvSharedInfo(Bytes.of(ps.sharedInfo())));
        } else {
            var params = ps.hvmParams();
            w.write(new HvmMagicPfns(params.get(HvmParamIndex.HVM_PARAM_IOREQ_PFN),
                    params.get(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN), params.get(HvmParamIndex.HVM_PARAM_STORE_PFN)));
            w.write(new HvmTailContext(Bytes.of(ps.hvmContext())));
            w.write(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, Bytes.EMPTY));
        }
        return out.toByteArray();
    }

    private static void sendPages(LegacyStreamWriter w, GuestMemory mem, DirtyBitmap bm)
            throws IOException, HypervisorException {
        long[] pfns = new long[StreamLimits.MAX_BATCH_SIZE];
        int n = 0;
        for (long pfn = bm.nextSetBit(0); pfn >= 0; pfn = bm.nextSetBit(pfn + 1)) {
            pfns[n++] = pfn;
            if (n == pfns.length) {
                sendBatch(w, mem, pfns, n);
                n = 0;
            }
        }
        if (n > 0) {
            sendBatch(w, mem, pfns, n);
        }
    }

    private static void sendBatch(LegacyStreamWriter w, GuestMemory mem, long[] pfns, int n)
            throws IOException, HypervisorException {
        try (GuestMemory.PageMapping m = mem.mapForRead(pfns, 0, n)) {
            int[] entries = new int[n];
            List<ByteBuffer> pages = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                entries[i] = m.type(i).pfinfo() | (int) m.pfn(i);
                if (m.type(i).hasData()) {
                    pages.add(m.page(i).asByteBuffer());
                }
            }
            w.write(PageBatch.of(entries, pages.toArray(ByteBuffer[]::new)));
        }
    }

    /** Test-only restorer: applies the reader's items to a paused domain built for the restore. */
    private static void restore(Domain dst, byte[] stream, GuestType type) throws Exception {
        List<LegacyItem> items = LegacyStreamReader.readAll(ByteBuffer.wrap(stream),
                LegacyStreamReader.Options.of(Width.W64, type));
        PlatformState ps = dst.platform();
        int vcpu = 0;
        for (LegacyItem item : items) {
            switch (item) {
                case PvHeader h -> ps.setP2mFrameList(h.p2mFrames());
                case PageBatch batch -> {
                    for (int i = 0; i < batch.count(); i++) {
                        if (batch.hasData(i)) {
                            dst.memory().writePage(batch.pfn(i), batch.type(i), MemorySegment.ofBuffer(batch.page(i)));
                        } else {
                            dst.memory().populateOnly(batch.pfn(i), batch.type(i));
                        }
                    }
                }
                case TscInfoChunk t -> ps.setTscInfo(t.tsc());
                case PvVcpuRecord r -> {
                    ps.setPvVcpuContext(r.vcpuId(), r.context().toArray());
                    ps.setPvExtendedContext(r.vcpuId(), r.extContext().toArray());
                    vcpu++;
                }
                case PvSharedInfo s -> ps.setSharedInfo(s.page().toArray());
                case HvmMagicPfns m -> {
                    ps.setHvmParam(HvmParamIndex.HVM_PARAM_IOREQ_PFN, m.ioreqPfn());
                    ps.setHvmParam(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, m.bufioreqPfn());
                    ps.setHvmParam(HvmParamIndex.HVM_PARAM_STORE_PFN, m.storePfn());
                }
                case HvmTailContext c -> ps.setHvmContext(c.blob().toArray());
                default -> {
                    // header, VCPU_INFO, markers, QEMU record, checkpoint end: nothing to apply in the sim
                }
            }
        }
        if (type == GuestType.PV) {
            assertEquals(dst.info().vcpus(), vcpu, "every vCPU record applied");
        }
    }
}
