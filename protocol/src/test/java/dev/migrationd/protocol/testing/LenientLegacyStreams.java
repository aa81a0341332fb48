package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyFormat;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.LegacyStreamReader.Leniency;
import dev.migrationd.protocol.legacy.QemuSignature;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Whole legacy streams with one shape each that no Xen 4.x sender writes but libxc's restore (Xen 4.5) accepts
 * (docs/wire-format-legacy.md §15), built byte by byte: 16-page guests, one or two page batches, VCPU_INFO, the
 * tail. Shared by the reader's, the converter's and the destination's tests.
 */
public final class LenientLegacyStreams {
    private LenientLegacyStreams() {
    }

    /** p2m_size of every stream here. */
    public static final int P2M = 16;
    /** The page fill of the ordinary page every stream carries at PFN 1 (the p2m frame). */
    public static final int FRAME_FILL = 0x11;
    /** A 4-character extended-info block id no Xen knows. */
    public static final int UNKNOWN_BLOCK = 0x64636261; // "abcd"
    /** The XSAVE record of {@link #pvShortXsave}: xcnt announces this much more than the record's size. */
    public static final int XSAVE_SLACK = 32;

    /** A stream, the options to read it with, and the warning kinds the reader gives for it. */
    public record Shape(String name, Width width, GuestType guest, List<Leniency> kinds, byte[] stream) {
        public LegacyStreamReader.Options options() {
            return LegacyStreamReader.Options.of(width, guest);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    public static List<Shape> all() {
        return List.of(pvUnknownExtBlock(), pvExtvDataAndRepeatedVcpu(), pvNoExtInfo(Width.W64), pvNoExtInfo(Width.W32),
                pvExtInfoWithoutVcpu(), hvmPinnedPlainPage(), hvmXtabOnlyBatch(), hvmDuplicatePfn(), pvNoVcpuInfo(),
                pvHvmChunks(), pvShortXsave());
    }

    // ------------------------------------------------------------------ PV

    /** Extended info with an unknown block {@code 'abcd'} of 6 bytes between {@code vcpu} and {@code extv}. */
    public static Shape pvUnknownExtBlock() {
        LegacyBin b = new LegacyBin(Width.W64).ulong(P2M).ulong(-1).i32(0x1430 + 8 + 6 + 8 + 8)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0x1430).bytes(LegacyFixtures.pvVcpuContext(Width.W64).toArray())
                .i32(UNKNOWN_BLOCK).i32(6).bytes("sixsix".getBytes(StandardCharsets.US_ASCII))
                .i32(LegacyFormat.EXT_BLOCK_EXTV).i32(0)
                .ulong(1);
        return pv("pv-unknown-ext-block", b, Width.W64, true, 0, List.of(Leniency.UNKNOWN_EXT_BLOCK));
    }

    /** A 32-bit {@code vcpu} block, an {@code extv} block with 3 bytes of data, then a 64-bit {@code vcpu} block. */
    public static Shape pvExtvDataAndRepeatedVcpu() {
        LegacyBin b = new LegacyBin(Width.W64).ulong(P2M).ulong(-1).i32(0xAF0 + 8 + 3 + 8 + 0x1430 + 8)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0xAF0).zeros(0xAF0)
                .i32(LegacyFormat.EXT_BLOCK_EXTV).i32(3).zeros(3)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0x1430).bytes(LegacyFixtures.pvVcpuContext(Width.W64).toArray())
                .ulong(1);
        return pv("pv-extv-data-repeated-vcpu", b, Width.W64, true, 0,
                List.of(Leniency.EXTV_WITH_DATA, Leniency.REPEATED_EXT_BLOCK));
    }

    /** An image from before Xen 3.0: no extended info, the frame list right after p2m_size; GW = W. */
    public static Shape pvNoExtInfo(Width w) {
        LegacyBin b = new LegacyBin(w).ulong(P2M).ulong(1);
        return pv("pv-no-ext-info-w" + w.bits(), b, w, false, 0, List.of(Leniency.NO_VCPU_BLOCK));
    }

    /** Extended info holding only {@code extv}: GW = W = 64. */
    public static Shape pvExtInfoWithoutVcpu() {
        LegacyBin b = new LegacyBin(Width.W64).ulong(P2M).ulong(-1).i32(8).i32(LegacyFormat.EXT_BLOCK_EXTV).i32(0)
                .ulong(1);
        return pv("pv-ext-info-without-vcpu", b, Width.W64, true, 0, List.of(Leniency.NO_VCPU_BLOCK));
    }

    /** A PV body without VCPU_INFO: the tail holds vCPU 0 only. */
    public static Shape pvNoVcpuInfo() {
        LegacyBin b = pvHeader64().i32(1).ulong(1).page(FRAME_FILL).i32(0);
        return new Shape("pv-no-vcpu-info", Width.W64, GuestType.PV, List.of(Leniency.NO_VCPU_INFO),
                pvTail(b, Width.W64, true, 0).done());
    }

    /** HVM_IDENT_PT and HVM_VIRIDIAN chunks in a PV body. */
    public static Shape pvHvmChunks() {
        LegacyBin b = pvHeader64().i32(1).ulong(1).page(FRAME_FILL)
                .i32(LegacyFormat.XC_SAVE_ID_HVM_IDENT_PT).i32(0).u64(0xFEFF_C000L)
                .i32(LegacyFormat.XC_SAVE_ID_HVM_VIRIDIAN).i32(0).u64(1)
                .i32(LegacyFormat.XC_SAVE_ID_VCPU_INFO).i32(0).u64(1).i32(0);
        return new Shape("pv-hvm-chunks", Width.W64, GuestType.PV, List.of(Leniency.HVM_CHUNK_IN_PV),
                pvTail(b, Width.W64, true, 0).done());
    }

    /**
     * xcnt announces {@link #XSAVE_SLACK} bytes more than vCPU 0's XSAVE record holds ({@link XsaveRecord#resetState}):
     * its size field is below xcnt − 16 and the rest of the record is zero.
     */
    public static Shape pvShortXsave() {
        int xcnt = XsaveRecord.resetState().xsaveLen() + XSAVE_SLACK;
        LegacyBin b = new LegacyBin(Width.W64).ulong(P2M).ulong(-1).i32(0x1430 + 8 + 8 + 12)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0x1430).bytes(LegacyFixtures.pvVcpuContext(Width.W64).toArray())
                .i32(LegacyFormat.EXT_BLOCK_EXTV).i32(0)
                .i32(LegacyFormat.EXT_BLOCK_XCNT).i32(4).i32(xcnt)
                .ulong(1);
        return pv("pv-short-xsave", b, Width.W64, true, xcnt, List.of(Leniency.SHORT_XSAVE));
    }

    private static LegacyBin pvHeader64() {
        return new LegacyBin(Width.W64).ulong(P2M).ulong(-1).i32(0x1430 + 8 + 8)
                .i32(LegacyFormat.EXT_BLOCK_VCPU).i32(0x1430).bytes(LegacyFixtures.pvVcpuContext(Width.W64).toArray())
                .i32(LegacyFormat.EXT_BLOCK_EXTV).i32(0)
                .ulong(1);
    }

    /** After a header: one batch (PFN 1), VCPU_INFO {0}, end of body, the tail. */
    private static Shape pv(String name, LegacyBin header, Width guestWidth, boolean extv, int xcnt,
                            List<Leniency> kinds) {
        header.i32(1).ulong(1).page(FRAME_FILL).i32(LegacyFormat.XC_SAVE_ID_VCPU_INFO).i32(0).u64(1).i32(0);
        return new Shape(name, header.width(), GuestType.PV, kinds, pvTail(header, guestWidth, extv, xcnt).done());
    }

    /** No unmapped PFNs, vCPU 0's record, the shared-info page. */
    private static LegacyBin pvTail(LegacyBin b, Width guestWidth, boolean extv, int xcnt) {
        b.i32(0).bytes(LegacyFixtures.pvVcpuContext(guestWidth).toArray());
        if (extv) {
            b.zeros(LegacyFormat.EXT_VCPU_CONTEXT_SIZE);
        }
        if (xcnt != 0) {
            byte[] rec = XsaveRecord.resetState().encode();
            b.bytes(rec).zeros(xcnt - rec.length);
        }
        return b.zeros(LegacyFormat.SHARED_INFO_SIZE);
    }

    // ------------------------------------------------------------------ HVM

    /** PFN 2 sent with type nibble 0x8 (the pin bit on a plain page), fill 0x22. */
    public static Shape hvmPinnedPlainPage() {
        return hvm("hvm-pinned-plain-page", new LegacyBin(Width.W64).ulong(P2M).i32(2).ulong(1).ulong(0x8000_0002L)
                .page(FRAME_FILL).page(0x22), List.of(Leniency.PINNED_PLAIN_PAGE));
    }

    /** A batch of three bare XTAB entries between two ordinary batches. */
    public static Shape hvmXtabOnlyBatch() {
        return hvm("hvm-xtab-only-batch", new LegacyBin(Width.W64).ulong(P2M).i32(1).ulong(1).page(FRAME_FILL)
                .i32(3).ulong(0xF000_0000L).ulong(0xF000_0000L).ulong(0xF000_0000L)
                .i32(1).ulong(2).page(0x22), List.of(Leniency.XTAB_ONLY_BATCH));
    }

    /**
     * PFN 3 twice in one batch (fills 0xA1 then 0xA2: 0xA2 counts), and PFN 4 as a page (0xB1) then as XALLOC in
     * the same batch (the page counts: an XALLOC only allocates).
     */
    public static Shape hvmDuplicatePfn() {
        return hvm("hvm-duplicate-pfn", new LegacyBin(Width.W64).ulong(P2M).i32(1).ulong(1).page(FRAME_FILL)
                .i32(4).ulong(3).ulong(4).ulong(3).ulong(0xE000_0004L).page(0xA1).page(0xB1).page(0xA2),
                List.of(Leniency.DUPLICATE_PFN));
    }

    /** After the body's batches: VCPU_INFO {0}, end of body, magic PFNs, a one-vCPU HVM context, an empty QEMU record. */
    private static Shape hvm(String name, LegacyBin b, List<Leniency> kinds) {
        b.i32(LegacyFormat.XC_SAVE_ID_VCPU_INFO).i32(0).u64(1).i32(0)
                .u64(13).u64(14).u64(15)
                .i32(LegacyFixtures.minimalHvmContext(1).size()).bytes(LegacyFixtures.minimalHvmContext(1).toArray())
                .bytes(QemuSignature.DEVICE_MODEL_RECORD_0002.bytes()).i32(0);
        return new Shape(name, Width.W64, GuestType.HVM, kinds, b.done());
    }
}
