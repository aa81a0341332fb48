package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The canonicalisation rules of docs/wire-format-legacy.md §5.3 and §8.1, with expected PTEs and registers computed by
 * hand from the spec (not from the code under test).
 */
class PvCanonicalTest {

    /** MFN → PFN of a small source guest; anything else is foreign (-1). */
    private static final Map<Long, Long> M2P = Map.of(
            0x12345L, 0x10L, 0x23456L, 0x11L, 0xABCDEL, 0x12L, 0x1F_FFFF_FFFFL, 0x13L, 0x1234_5678L, 0x14L);

    private static long m2p(long mfn) {
        return M2P.getOrDefault(mfn, -1L);
    }

    private final Arena arena = Arena.ofAuto();

    private MemorySegment table(long... firstEntries) {
        MemorySegment s = arena.allocate(4096);
        for (int i = 0; i < firstEntries.length; i++) {
            s.setAtIndex(PvCanonical.PTE, i, firstEntries[i]);
        }
        return s;
    }

    private MemorySegment canon(MemorySegment src, PageType type, Width gw, boolean live, long compat) throws HypervisorException {
        MemorySegment dst = arena.allocate(4096);
        dst.fill((byte) 0x77);
        PvCanonical.canonicalisePageTable(src, dst, type, gw, PvCanonicalTest::m2p, compat, live, "vm");
        return dst;
    }

    private static long at(MemorySegment s, int i) {
        return s.getAtIndex(PvCanonical.PTE, i);
    }

    @ParameterizedTest
    @EnumSource(value = PageType.class, names = {"L1TAB", "L2TAB", "L3TAB", "L1TAB_PINNED", "L2TAB_PINNED"})
    void sixtyFourBitTablesBelowL4TranslatePresentFramesAndKeepFlags(PageType type) throws Exception {
        MemorySegment src = table(
                0x8000_0000_1234_5067L,  // NX | frame 0x12345 | D A U RW P
                0x0000_0000_2345_6063L,  // frame 0x23456 | D A RW P
                0x0000_0000_1234_5000L,  // not present: kept verbatim
                0x0000_0000_0000_0000L,
                0x000F_FFFF_FFFF_F001L,  // frame 0xFF_FFFF_FFFF (bits 12..51 all set): foreign -> PFN 0 (live)
                0x0001_FFFF_FFFF_F025L); // frame 0x1F_FFFF_FFFF | A U P
        MemorySegment dst = canon(src, type, Width.W64, true, -1);
        assertEquals(0x8000_0000_0001_0067L, at(dst, 0));
        assertEquals(0x0000_0000_0001_1063L, at(dst, 1));
        assertEquals(0x0000_0000_1234_5000L, at(dst, 2));
        assertEquals(0, at(dst, 3));
        assertEquals(0x0000_0000_0000_0001L, at(dst, 4), "a foreign frame while the guest runs becomes PFN 0");
        assertEquals(0x0000_0000_0001_3025L, at(dst, 5));
        for (int i = 6; i < 512; i++) {
            assertEquals(0, at(dst, i));
        }
    }

    @Test
    void sixtyFourBitL4ZeroesXensSlots256To271() throws Exception {
        MemorySegment src = arena.allocate(4096);
        for (int i = 250; i < 280; i++) {
            src.setAtIndex(PvCanonical.PTE, i, 0xABCDE067L); // frame 0xABCDE -> pfn 0x12
        }
        MemorySegment dst = canon(src, PageType.L4TAB_PINNED, Width.W64, false, -1);
        for (int i = 250; i < 280; i++) {
            long expected = i >= 256 && i <= 271 ? 0 : 0x12067L;
            assertEquals(expected, at(dst, i), "slot " + i);
        }
    }

    @Test
    void superpagesAndForeignFramesOfAPausedGuestAreErrors() {
        HypervisorException pse = assertThrows(HypervisorException.class,
                () -> canon(table(0x1234_50E3L), PageType.L2TAB, Width.W64, true, -1));
        assertEquals("memory.mapForRead domain=vm: L2[0] = 0x123450e3 maps a superpage, which a PV migration cannot carry", pse.getMessage());
        HypervisorException foreign = assertThrows(HypervisorException.class,
                () -> canon(table(0, 0x9999_9001L), PageType.L1TAB, Width.W64, false, -1));
        assertEquals("memory.mapForRead domain=vm: L1[1] maps mfn 0x99999, which is not the guest's, while the guest is paused",
                foreign.getMessage());
        // PSE on an L1 entry is the PAT bit, not a superpage
        assertEquals(0x1_0081L, at(assertDoesNotThrow(() -> canon(table(0x1234_5081L), PageType.L1TAB, Width.W64, false, -1)), 0));
    }

    private static <T> T assertDoesNotThrow(org.junit.jupiter.api.function.ThrowingSupplier<T> s) {
        return org.junit.jupiter.api.Assertions.assertDoesNotThrow(s);
    }

    @Test
    void paeL3KeepsFourEntriesWithoutUserRwAccessed() throws Exception {
        MemorySegment src = arena.allocate(4096);
        src.setAtIndex(PvCanonical.PTE, 0, 0x1234_5027L); // A U RW P, frame 0x12345 -> pfn 0x10: 0x10001
        src.setAtIndex(PvCanonical.PTE, 1, 0x2345_6001L); // P only -> 0x11001
        src.setAtIndex(PvCanonical.PTE, 3, 0x0123_4567_8027L); // frame 0x12345678 -> pfn 0x14: 0x14001
        src.setAtIndex(PvCanonical.PTE, 4, 0xABCD_E001L); // Xen's: zeroed
        src.setAtIndex(PvCanonical.PTE, 511, 0xABCD_E001L);
        MemorySegment dst = canon(src, PageType.L3TAB_PINNED, Width.W32, false, 0x777);
        assertEquals(0x1_0001L, at(dst, 0));
        assertEquals(0x1_1001L, at(dst, 1));
        assertEquals(0, at(dst, 2));
        assertEquals(0x1_4001L, at(dst, 3));
        assertEquals(0, at(dst, 4));
        assertEquals(0, at(dst, 511));
    }

    @Test
    void paeL2MappingXensCompatM2pLosesTheHypervisorHole() throws Exception {
        long compat = 0x4_1000;
        MemorySegment xens = arena.allocate(4096);
        xens.setAtIndex(PvCanonical.PTE, 0, 0xABCD_E063L);
        xens.setAtIndex(PvCanonical.PTE, 427, 0xABCD_E063L);
        xens.setAtIndex(PvCanonical.PTE, 428, (compat << 12) | 0x63); // (0xF5800000 >> 21) & 0x1FF = 428
        xens.setAtIndex(PvCanonical.PTE, 500, 0x9999_9063L);
        MemorySegment dst = canon(xens, PageType.L2TAB, Width.W32, false, compat);
        assertEquals(0x1_2063L, at(dst, 0));
        assertEquals(0x1_2063L, at(dst, 427));
        assertEquals(0, at(dst, 428));
        assertEquals(0, at(dst, 500));

        MemorySegment plain = arena.allocate(4096);
        plain.setAtIndex(PvCanonical.PTE, 428, 0xABCD_E063L); // an ordinary guest mapping there: translated
        assertEquals(0x1_2063L, at(canon(plain, PageType.L2TAB, Width.W32, false, compat), 428));
        assertThrows(HypervisorException.class, () -> canon(plain, PageType.L4TAB, Width.W32, true, compat));
    }

    @Test
    void paeFramesAreBits12To43AndTheBitsAboveStayFlags() throws Exception {
        // bit 47 (inside 44..51) and NX: with GW=4 they are not frame bits, so they survive as flags
        MemorySegment dst = canon(table(0x8000_8000_1234_5001L), PageType.L1TAB, Width.W32, false, -1);
        assertEquals(0x8000_8000_0001_0001L, at(dst, 0));
    }

    @Test
    void restoreTranslatesPfnsAllocatingUnseenOnesAndRefusesPfnsOutsideTheP2m() throws Exception {
        Map<Long, Long> p2m = new HashMap<>(Map.of(0x10L, 0x5_0000L));
        List<Long> allocated = new ArrayList<>();
        PvCanonical.Translator alloc = pfn -> p2m.computeIfAbsent(pfn, p -> {
            allocated.add(p);
            return 0x6_0000L + p;
        });
        MemorySegment src = table(0x8000_0000_0001_0067L, 0x0000_0000_0002_0063L, 0x0000_0000_0003_0000L);
        MemorySegment dst = arena.allocate(4096);
        PvCanonical.uncanonicalisePageTable(src, dst, PageType.L1TAB, Width.W64, 0x100, alloc, "vm");
        assertEquals(0x8000_0000_5000_0067L, at(dst, 0));
        assertEquals(0x0000_0000_6002_0063L, at(dst, 1));
        assertEquals(0x0000_0000_0003_0000L, at(dst, 2), "not present: untouched");
        assertEquals(List.of(0x20L), allocated);

        HypervisorException far = assertThrows(HypervisorException.class, () -> PvCanonical.uncanonicalisePageTable(
                table(0x100_001L), arena.allocate(4096), PageType.L2TAB, Width.W64, 0x100, alloc, "vm"));
        assertEquals("memory.writePage domain=vm: L2[0] maps pfn 0x100, outside the p2m of 256 PFNs", far.getMessage());
    }

    /** Source canonicalise → destination uncanonicalise with other MFNs: every table means the same PFNs. */
    @ParameterizedTest
    @EnumSource(value = Width.class)
    void aRoundTripWithDifferentMachineFramesYieldsEquivalentTables(Width gw) throws Exception {
        Random r = new Random(42);
        int pfns = 600;
        Map<Long, Long> srcMfn = new HashMap<>();
        Map<Long, Long> srcPfn = new HashMap<>();
        Map<Long, Long> dstMfn = new HashMap<>();
        for (long pfn = 0; pfn < pfns; pfn++) {
            long a = 0x10_0000L + pfn * 7 + r.nextInt(5) * 100_000L;
            while (srcPfn.containsKey(a)) {
                a++;
            }
            srcMfn.put(pfn, a);
            srcPfn.put(a, pfn);
            dstMfn.put(pfn, 0x80_0000L + (pfns - pfn) * 3);
        }
        PageType type = gw == Width.W64 ? PageType.L1TAB : PageType.L2TAB;
        MemorySegment src = arena.allocate(4096);
        long[] flags = new long[512];
        long[] pfnOf = new long[512];
        for (int i = 0; i < 512; i++) {
            pfnOf[i] = r.nextInt(pfns);
            flags[i] = (r.nextBoolean() ? 1 : 0) | 0x62 | (r.nextBoolean() ? Long.MIN_VALUE : 0); // present or not, D A RW, NX
            src.setAtIndex(PvCanonical.PTE, i, flags[i] | (srcMfn.get(pfnOf[i]) << 12));
        }
        MemorySegment wire = arena.allocate(4096);
        PvCanonical.canonicalisePageTable(src, wire, type, gw, m -> srcPfn.getOrDefault(m, -1L), -1, false, "vm");
        MemorySegment back = arena.allocate(4096);
        PvCanonical.uncanonicalisePageTable(wire, back, type, gw, pfns, dstMfn::get, "vm");
        for (int i = 0; i < 512; i++) {
            long expected = (flags[i] & 1) != 0 ? flags[i] | (dstMfn.get(pfnOf[i]) << 12) : src.getAtIndex(PvCanonical.PTE, i);
            assertEquals(expected, at(back, i), "entry " + i);
        }
    }

    // ---- vCPU contexts ----------------------------------------------------------------------------------------

    @Test
    void sixtyFourBitVcpu0ContextTranslatesStartInfoGdtCr3AndCr1() throws Exception {
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        MemorySegment ctx = arena.allocate(o.size());
        o.setWord(ctx, o.edx(), 0x12345L);             // start_info mfn -> pfn 0x10
        o.setWord(ctx, o.gdtEnts(), 513);              // two frames
        o.setWord(ctx, o.gdtFrame(0), 0x23456L);       // -> 0x11
        o.setWord(ctx, o.gdtFrame(1), 0xABCDEL);       // -> 0x12
        o.setWord(ctx, o.gdtFrame(2), 0x9999L);        // beyond gdt_ents: untouched
        o.setWord(ctx, o.cr(3), 0x1F_FFFF_FFFFL << 12); // -> pfn 0x13
        o.setWord(ctx, o.cr(1), 0x1234_5678L << 12);   // -> (0x14 << 12) | 1
        PvCanonical.canonicaliseVcpu(ctx, 0, o, PvCanonicalTest::m2p, "vm");
        assertEquals(0x10, o.word(ctx, o.edx()));
        assertEquals(0x11, o.word(ctx, o.gdtFrame(0)));
        assertEquals(0x12, o.word(ctx, o.gdtFrame(1)));
        assertEquals(0x9999, o.word(ctx, o.gdtFrame(2)));
        assertEquals(0x13000, o.word(ctx, o.cr(3)));
        assertEquals(0x14001, o.word(ctx, o.cr(1)));
        assertEquals(616, o.edx());
        assertEquals(4984 + 3 * 8, o.cr(3));
    }

    @Test
    void aSecondVcpuKeepsRdxAndAZeroCr1() throws Exception {
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        MemorySegment ctx = arena.allocate(o.size());
        o.setWord(ctx, o.edx(), 0xDEAD_BEEFL);
        o.setWord(ctx, o.cr(3), 0x12345L << 12);
        PvCanonical.canonicaliseVcpu(ctx, 1, o, PvCanonicalTest::m2p, "vm");
        assertEquals(0xDEAD_BEEFL, o.word(ctx, o.edx()));
        assertEquals(0x10000, o.word(ctx, o.cr(3)));
        assertEquals(0, o.word(ctx, o.cr(1)));
    }

    @Test
    void paeVcpuContextFoldsCr3AsExtendedCr3() throws Exception {
        var o = PvCanonical.VcpuOffsets.of(Width.W32);
        MemorySegment ctx = arena.allocate(o.size());
        // mfn 0x1234_5678: cr3 = (mfn << 12 | mfn >> 20) mod 2^32 = 0x45678000 | 0x123 = 0x45678123
        o.setWord(ctx, o.cr(3), 0x4567_8123L);
        o.setWord(ctx, o.edx(), 0xABCDEL);
        o.setWord(ctx, o.gdtEnts(), 1);
        o.setWord(ctx, o.gdtFrame(0), 0x23456L);
        PvCanonical.canonicaliseVcpu(ctx, 0, o, PvCanonicalTest::m2p, "vm");
        assertEquals(0x14000, o.word(ctx, o.cr(3)), "pfn 0x14: 0x14 << 12 | 0x14 >> 20");
        assertEquals(0x12, o.word(ctx, o.edx()));
        assertEquals(0x11, o.word(ctx, o.gdtFrame(0)));
        assertEquals(524, o.edx());
        assertEquals(2716 + 3 * 4, o.cr(3));
        assertEquals(0x4567_8123L, PvCanonical.frameToCr3(Width.W32, 0x1234_5678L));
        assertEquals(0x1234_5678L, PvCanonical.cr3ToFrame(Width.W32, 0x4567_8123L));
        assertEquals(-1, PvCanonical.frameToCr3(Width.W32, 0x1_0000_0000L));
    }

    @Test
    void badContextsAreRefusedNamingTheField() {
        var o = PvCanonical.VcpuOffsets.of(Width.W64);
        MemorySegment ctx = arena.allocate(o.size());
        o.setWord(ctx, o.gdtEnts(), 8193);
        HypervisorException gdt = assertThrows(HypervisorException.class, () -> PvCanonical.canonicaliseVcpu(ctx, 1, o, PvCanonicalTest::m2p, "vm"));
        assertEquals("platform.pvVcpuContext domain=vm: vcpu1 has 8193 GDT entries (at most 8192)", gdt.getMessage());
        o.setWord(ctx, o.gdtEnts(), 0);
        o.setWord(ctx, o.edx(), 0x4242);
        HypervisorException si = assertThrows(HypervisorException.class, () -> PvCanonical.canonicaliseVcpu(ctx, 0, o, PvCanonicalTest::m2p, "vm"));
        assertEquals("platform.pvVcpuContext domain=vm: vcpu0's start_info (rdx/edx) is mfn 0x4242, which is not in the guest's p2m", si.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = Width.class)
    void restoreUncanonicalisesTheContextWithTheReceiversChecks(Width gw) throws Exception {
        var o = PvCanonical.VcpuOffsets.of(gw);
        int top = gw == Width.W64 ? 4 : 3;
        Map<Long, Integer> types = Map.of(0x5L, 0x0, 0x6L, 0x0, 0x7L, 0x8 | top, 0x8L, top, 0x9L, 1);
        PvCanonical.TypeOf typeOf = pfn -> types.getOrDefault(pfn, -1);
        PvCanonical.Translator newMfn = pfn -> pfn == 0x3L ? -1 : 0x9_0000L + pfn;
        MemorySegment ctx = arena.allocate(o.size());
        o.setWord(ctx, o.edx(), 0x5);
        o.setWord(ctx, o.gdtEnts(), 20);
        o.setWord(ctx, o.gdtFrame(0), 0x6);
        o.setWord(ctx, o.cr(3), PvCanonical.frameToCr3(gw, 0x7));
        if (gw == Width.W64) {
            o.setWord(ctx, o.cr(1), (0x8L << 12) | 1);
        }
        long startInfo = PvCanonical.uncanonicaliseVcpu(ctx, 0, o, 0x100, typeOf, newMfn, "vm");
        assertEquals(0x5, startInfo);
        assertEquals(0x9_0005L, o.word(ctx, o.edx()));
        assertEquals(0x9_0006L, o.word(ctx, o.gdtFrame(0)));
        assertEquals(PvCanonical.frameToCr3(gw, 0x9_0007L), o.word(ctx, o.cr(3)));
        assertEquals(XenLayouts.VGCF_ONLINE, o.word(ctx, o.flags()) & XenLayouts.VGCF_ONLINE);
        if (gw == Width.W64) {
            assertEquals(0x9_0008L << 12, o.word(ctx, o.cr(1)));
        }

        MemorySegment bad = arena.allocate(o.size());
        o.setWord(bad, o.edx(), 0x5);
        o.setWord(bad, o.cr(3), PvCanonical.frameToCr3(gw, 0x9)); // an L1, not the top level
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> PvCanonical.uncanonicaliseVcpu(bad, 0, o, 0x100, typeOf, newMfn, "vm"));
        assertEquals("platform.setPvVcpuContext domain=vm: vcpu0's cr3 is pfn 0x9 of type 0x1, expected an L" + top + " table", e.getMessage());
        o.setWord(bad, o.edx(), 0x200);
        HypervisorException far = assertThrows(HypervisorException.class,
                () -> PvCanonical.uncanonicaliseVcpu(bad, 0, o, 0x100, typeOf, newMfn, "vm"));
        assertTrue(far.getMessage().endsWith("vcpu0's start_info is pfn 0x200, outside the p2m of 256 PFNs"), far.getMessage());
    }

    /** A peer's bytes: any context or table is either loaded or refused with a HypervisorException, never a crash. */
    @ParameterizedTest
    @EnumSource(value = Width.class)
    void randomPeerInputIsRefusedCleanlyOrTranslatedInsideTheP2m(Width gw) {
        Random r = new Random(7 + gw.bits());
        var o = PvCanonical.VcpuOffsets.of(gw);
        long p2mSize = 64;
        PvCanonical.TypeOf types = pfn -> pfn >= 0 && pfn < p2mSize ? (int) (pfn % 16) : -1;
        PvCanonical.Translator mfn = pfn -> {
            assertTrue(pfn >= 0 && pfn < p2mSize, "asked to translate pfn " + pfn + " outside the p2m");
            return 0x1000 + pfn;
        };
        int loaded = 0;
        for (int round = 0; round < 300; round++) {
            byte[] bytes = new byte[o.size()];
            r.nextBytes(bytes);
            MemorySegment ctx = MemorySegment.ofArray(bytes);
            if (round % 3 == 0) { // mostly plausible values, so that the checks past the first are reached
                o.setWord(ctx, o.edx(), r.nextInt(70));
                o.setWord(ctx, o.gdtEnts(), r.nextInt(9000));
                for (int j = 0; j < 16; j++) {
                    o.setWord(ctx, o.gdtFrame(j), 16L * r.nextInt(5));
                }
                long top = PvCanonical.topLevel(gw);
                o.setWord(ctx, o.cr(3), PvCanonical.frameToCr3(gw, r.nextBoolean() ? 16L * r.nextInt(4) + top : r.nextInt(70)));
                o.setWord(ctx, o.cr(1), r.nextBoolean() ? 0 : r.nextLong());
            }
            try {
                PvCanonical.uncanonicaliseVcpu(ctx, round % 2, o, p2mSize, types, mfn, "vm");
                loaded++;
            } catch (HypervisorException e) {
                assertTrue(e.getMessage().startsWith("platform.setPvVcpuContext domain=vm: "), e.getMessage());
            }
            MemorySegment table = arena.allocate(4096);
            for (int i = 0; i < 512; i++) {
                table.setAtIndex(PvCanonical.PTE, i, round % 2 == 0 ? r.nextLong() : (r.nextLong() & 0xFFF) | ((long) r.nextInt(70) << 12));
            }
            try {
                PvCanonical.uncanonicalisePageTable(table, arena.allocate(4096), PageType.L1TAB, gw, p2mSize, mfn, "vm");
            } catch (HypervisorException e) {
                assertTrue(e.getMessage().startsWith("memory.writePage domain=vm: L1["), e.getMessage());
            }
        }
        assertTrue(loaded > 0, "some plausible contexts load: the checks are not refusing everything");
    }
}
