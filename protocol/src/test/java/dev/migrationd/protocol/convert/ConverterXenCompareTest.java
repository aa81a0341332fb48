package dev.migrationd.protocol.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.testing.XenV2Tools;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.V2Item;
import dev.migrationd.protocol.v2.V2Streams;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Legacy streams from the legacy writer, for guest {PV, HVM} × toolstack width {64, 32} (PV also × guest width),
 * converted by Xen's {@code convert-legacy-stream} ({@code -f libxc} and {@code -f libxl}): the output verifies
 * with {@code verify-stream-v2}, and our v2 reader decodes from it exactly the pages, page types, vCPU contexts,
 * HVM params, TSC info, HVM context, shared info and device-model state that were written. Our in-process
 * converter's output verifies too and equals Xen's record by record (and byte by byte) once the documented
 * addition is taken out: PAGE_DATA records of XTAB entries for the PV tail's unmapped PFNs.
 */
class ConverterXenCompareTest {

    static Stream<LegacyFixtures.Case> cases() {
        List<LegacyFixtures.Case> out = new ArrayList<>();
        for (Width w : Width.values()) {
            for (Width gw : Width.values()) {
                out.add(new LegacyFixtures.Case(GuestType.PV, w, gw, 1, true));
            }
            out.add(new LegacyFixtures.Case(GuestType.HVM, w, Width.W64, 1, true));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void xenConverterOutputDecodesToWhatWasWritten(LegacyFixtures.Case c) throws Exception {
        List<LegacyItem> items = LegacyFixtures.items(c, c.hashCode());
        byte[] legacy = LegacyFixtures.write(c, items);
        GuestContent want = new GuestContent();
        items.forEach(want::add);
        want.unmapped.clear(); // Xen's converter discards them
        for (boolean libxl : new boolean[] {false, true}) {
            XenV2Tools.Result x = XenV2Tools.convertLegacyStream(legacy, c.toolstack(), c.guest(),
                    libxl ? "libxl" : "libxc");
            assertEquals(0, x.exitCode(), x.describe());
            ConvertSupport.Decoded d = ConvertSupport.decode(x.output(), libxl);
            ConvertSupport.verify(x.output(), libxl, d.items());
            GuestContent got = new GuestContent();
            d.items().forEach(i -> got.add(i, false));
            if (!libxl) {
                got.qemu = d.rawQemu();
            }
            GuestContent.assertSame(want, got, c + (libxl ? " libxl" : " libxc"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void ourConverterMatchesXensRecordByRecord(LegacyFixtures.Case c) throws Exception {
        List<LegacyItem> items = LegacyFixtures.items(c, c.hashCode() + 1);
        byte[] legacy = LegacyFixtures.write(c, items);
        GuestContent want = new GuestContent();
        items.forEach(want::add);
        for (boolean libxl : new boolean[] {false, true}) {
            String what = c + (libxl ? " libxl" : " libxc");
            XenV2Tools.Result x = XenV2Tools.convertLegacyStream(legacy, c.toolstack(), c.guest(),
                    libxl ? "libxl" : "libxc");
            assertEquals(0, x.exitCode(), x.describe());
            byte[] ours = ConvertSupport.convert(legacy, c, libxl);
            ConvertSupport.Decoded mine = ConvertSupport.decode(ours, libxl);
            ConvertSupport.verify(ours, libxl, mine.items());

            GuestContent got = new GuestContent();
            mine.items().forEach(i -> got.add(i, true));
            if (!libxl) {
                got.qemu = mine.rawQemu();
            }
            GuestContent.assertSame(want, got, what + " (ours)");

            // take out the documented addition: XTAB-only PAGE_DATA records for the unmapped PFNs
            List<V2Item> stripped = mine.items().stream().filter(i -> !isUnmappedPfnRecord(i)).toList();
            ConvertSupport.Decoded theirs = ConvertSupport.decode(x.output(), libxl);
            assertEquals(theirs.items(), stripped, what + ": records");
            byte[] rebuilt = V2Streams.write(stripped);
            byte[] withTail = new byte[rebuilt.length + mine.rawTail().length];
            System.arraycopy(rebuilt, 0, withTail, 0, rebuilt.length);
            System.arraycopy(mine.rawTail(), 0, withTail, rebuilt.length, mine.rawTail().length);
            ConvertSupport.assertBytes(x.output(), withTail, what + ": bytes");
            if (want.unmapped.isEmpty()) {
                ConvertSupport.assertBytes(x.output(), ours, what + ": bytes without additions");
            }
        }
    }

    static boolean isUnmappedPfnRecord(V2Item i) {
        if (!(i instanceof PageData d)) {
            return false;
        }
        for (int k = 0; k < d.count(); k++) {
            if (d.pageType(k) != PageType.XTAB) {
                return false;
            }
        }
        return true;
    }
}
