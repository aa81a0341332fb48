package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.EndOfBody;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.testing.LegacyBin;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A save file changed into shapes that libxc's restore accepts although no Xen sender writes them
 * (docs/wire-format-legacy.md §15) restores on the sim backend, with what libxc would make of it: of a PFN sent twice
 * in one batch the later page counts, a page of type 0x8 is a plain page, a batch of bare XTABs does nothing, a PV
 * body without VCPU_INFO brings vCPU 0 alone, an HVM chunk in a PV body is ignored.
 */
class LenientLegacyRestoreTest {

    private static final long PAGES = 64;

    @TempDir
    Path dir;

    /** Where the items of a saved stream end: END_OF_BODY's start, and VCPU_INFO's start and end. */
    private record Landmarks(int endOfBody, int vcpuInfoStart, int vcpuInfoEnd) {
    }

    private static Landmarks landmarks(byte[] stream, GuestType type) throws Exception {
        int[] at = {-1, -1, -1};
        LegacyStreamReader[] r = new LegacyStreamReader[1];
        long[] before = {0};
        r[0] = new LegacyStreamReader(LegacyStreamReader.Options.of(Width.W64, type), item -> {
            long end = r[0].offset();
            if (item instanceof EndOfBody && at[0] < 0) {
                at[0] = (int) end - 4;
            } else if (item instanceof VcpuInfo && at[1] < 0) {
                at[1] = (int) before[0];
                at[2] = (int) end;
            }
            before[0] = end;
        });
        r[0].feed(ByteBuffer.wrap(stream));
        r[0].finish();
        return new Landmarks(at[0], at[1], at[2]);
    }

    /** Saves the guest {@code name} of {@code pair}'s first engine to a legacy file (not live). */
    private Path save(EnginePair pair, String name) throws Exception {
        Path file = dir.resolve(name + ".save");
        pair.a.engine.save(new SaveRequest(name, file, MigrationOptions.StreamFormat.LEGACY, false, false, false, 0));
        return file;
    }

    private static byte fill(GuestMemory m, long pfn) throws Exception {
        try (GuestMemory.PageMapping p = m.mapForRead(new long[] {pfn}, 0, 1)) {
            byte first = p.page(0).get(ValueLayout.JAVA_BYTE, 0);
            for (int i = 1; i < LegacyFormat.PAGE_SIZE; i++) {
                assertEquals(first, p.page(0).get(ValueLayout.JAVA_BYTE, i), "pfn " + pfn + " byte " + i);
            }
            return first;
        }
    }

    @Test
    void hvmBatchesWithDuplicatePinnedPlainAndXtabOnlyEntriesRestore() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            pair.a.hv.createRunning("vm1", GuestType.HVM, PAGES, 2);
            Path file = save(pair, "vm1");
            byte[] s = Files.readAllBytes(file);
            int end = landmarks(s, GuestType.HVM).endOfBody();
            byte[] extra = new LegacyBin(Width.W64)
                    .i32(4).ulong(3).ulong(4).ulong(3).ulong(0xE000_0004L).page(0xA1).page(0xB1).page(0xA2)
                    .i32(1).ulong(0x8000_0002L).page(0x22)
                    .i32(2).ulong(0xF000_0000L).ulong(0xF000_0000L)
                    .done();
            Files.write(file, splice(s, end, end, extra));

            pair.b.engine.restore(new RestoreRequest(file, "vm1", true));
            SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
            GuestMemory m = dst.memory();
            assertEquals((byte) 0xA2, fill(m, 3), "the later of the two pages of pfn 3");
            assertEquals((byte) 0xB1, fill(m, 4), "the page of pfn 4, not undone by the XALLOC after it");
            assertEquals((byte) 0x22, fill(m, 2), "type 0x8 written as a plain page");
        }
    }

    @Test
    void pvBodyWithoutVcpuInfoAndWithAnHvmChunkRestoresVcpu0() throws Exception {
        try (EnginePair pair = new EnginePair(dir)) {
            pair.a.hv.createRunning("vm2", GuestType.PV, PAGES, 1);
            Path file = save(pair, "vm2");
            byte[] s = Files.readAllBytes(file);
            Landmarks l = landmarks(s, GuestType.PV);
            assertTrue(l.vcpuInfoStart() > 0 && l.vcpuInfoEnd() <= l.endOfBody(), l.toString());
            byte[] hvmChunk = new LegacyBin(Width.W64).i32(LegacyFormat.XC_SAVE_ID_HVM_IDENT_PT).i32(0).u64(0xFEFF_C000L)
                    .done();
            long pfn = PAGES - 2;
            byte[] dup = new LegacyBin(Width.W64).i32(2).ulong(pfn).ulong(pfn).page(0x5A).page(0x5B).done();
            // VCPU_INFO out, the HVM chunk in its place, a batch with a duplicate PFN just before END_OF_BODY
            byte[] changed = splice(splice(s, l.endOfBody(), l.endOfBody(), dup), l.vcpuInfoStart(), l.vcpuInfoEnd(),
                    hvmChunk);
            Files.write(file, changed);

            pair.b.engine.restore(new RestoreRequest(file, "vm2", true));
            SimGuest dst = pair.b.hv.guest("vm2").orElseThrow();
            assertEquals((byte) 0x5B, fill(dst.memory(), pfn), "the later of the two pages");
        }
    }

    /** {@code s} with bytes {@code from..to} replaced by {@code with}. */
    private static byte[] splice(byte[] s, int from, int to, byte[] with) {
        byte[] out = Arrays.copyOf(s, s.length - (to - from) + with.length);
        System.arraycopy(with, 0, out, from, with.length);
        System.arraycopy(s, to, out, from + with.length, s.length - to);
        return out;
    }
}
