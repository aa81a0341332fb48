package dev.migrationd.protocol.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.PvUnmappedPfns;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthGuest;
import dev.migrationd.protocol.synth.SynthOptions;
import dev.migrationd.protocol.testing.XenTools;
import dev.migrationd.protocol.verify.DetectedStream.Kind;
import dev.migrationd.protocol.verify.DetectedStream.Wrapper;
import dev.migrationd.protocol.verify.Report.Source;
import dev.migrationd.protocol.x86.HvmHwCpu;
import dev.migrationd.protocol.x86.PvVcpuLayout;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The stream verifier on synthesised streams, damaged ones, toolstack headers, and Xen's own converter's output. */
class StreamVerifierTest {

    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private static Report verify(byte[] stream) throws IOException, StreamException {
        return StreamVerifier.verify(Channels.newChannel(new ByteArrayInputStream(stream)),
                StreamVerifier.Options.DETECT);
    }

    private static StreamException invalid(byte[] stream) {
        return assertThrows(StreamException.class, () -> verify(stream));
    }

    @ParameterizedTest
    @CsvSource({"PV,LEGACY", "HVM,LEGACY", "PV,V2_LIBXC", "HVM,V2_LIBXC", "PV,V2_LIBXL", "HVM,V2_LIBXL"})
    void synthesisedStreamsAreValidAndAddUp(GuestType guest, SynthOptions.Format format) throws Exception {
        SynthOptions o = SynthOptions.of(guest, 300).withFormat(format);
        byte[] b = StreamSynth.toBytes(o);
        Report r = StreamVerifier.verify(write("s", b), StreamVerifier.Options.DETECT);
        assertEquals(format.name(), r.kind().name());
        assertEquals(guest, r.guestType());
        assertEquals(b.length, r.totalBytes());
        assertEquals(b.length, r.items().values().stream().mapToLong(Report.ItemCount::bytes).sum(),
                "per-item bytes add up to the stream's size");
        assertEquals(1, r.checkpoints());
        assertEquals(guest == GuestType.PV ? 300 : 300 - 32, r.pageCount(), "every PFN but HVM's VGA hole");
        assertEquals(List.of(r.pageCount()), r.pagesPerCheckpoint());
        assertNull(r.toolstackHeader());
        if (format == SynthOptions.Format.LEGACY) {
            assertEquals(Width.W64, r.toolstackWidth());
            assertEquals(Source.DETECTED, r.toolstackWidthSource());
            assertEquals(Source.DETECTED, r.guestTypeSource());
        } else {
            assertNull(r.toolstackWidth());
            assertEquals(Source.DOMAIN_HEADER, r.guestTypeSource());
        }
    }

    @Test
    void aLegacyPvStreamIsSummarised() throws Exception {
        byte[] b = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 2048).withWidths(Width.W32, Width.W32));
        Report r = verify(b);
        assertEquals(Kind.LEGACY, r.kind());
        assertEquals(Width.W32, r.toolstackWidth());
        assertEquals(GuestType.PV, r.guestType());
        assertEquals(Width.W32, r.guestWidth());
        assertEquals(2048, r.p2mSize().orElseThrow());
        assertEquals(2, r.items().get("PAGE_BATCH").count());
        assertEquals(2048, r.pageCount());
        assertEquals(1L, r.pages().get(PageType.L3TAB_PINNED));
        assertEquals(2L, r.pages().get(PageType.L1TAB_PINNED));
        assertEquals(2, r.tail().get("vcpus"));
        assertEquals(608, ((Number) r.tail().get("xsave_len")).intValue());
    }

    @Test
    void remusCheckpointsCountThePagesEachSent() throws Exception {
        SynthOptions o = new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 4096, 1, 3, false,
                SynthOptions.Format.LEGACY, 2);
        SynthGuest g = new SynthGuest(o);
        List<Long> expected = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            long n = 0;
            for (long pfn = 0; pfn < 4096; pfn++) {
                n += g.sentIn(pfn, k) ? 1 : 0;
            }
            expected.add(n);
        }
        for (SynthOptions.Format f : SynthOptions.Format.values()) {
            Report r = verify(StreamSynth.toBytes(o.withFormat(f)));
            assertEquals(3, r.checkpoints(), f.name());
            assertEquals(expected, r.pagesPerCheckpoint(), f.name());
        }
        Report legacy = verify(StreamSynth.toBytes(o));
        assertEquals(3, legacy.items().get("QEMU_RECORD").count());
        assertEquals(List.of("HEADER", "CPU[0]", "CPU[1]", "END"), legacy.tail().get("hvm_context_records"));
    }

    /** A channel that hands out a few bytes at a time: the report must not depend on how the bytes arrive. */
    private static ReadableByteChannel trickle(byte[] b, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        ByteBuffer src = ByteBuffer.wrap(b);
        return new ReadableByteChannel() {
            @Override
            public int read(ByteBuffer dst) {
                if (!src.hasRemaining()) {
                    return -1;
                }
                int n = Math.min(Math.min(dst.remaining(), src.remaining()), 1 + rnd.nextInt(7));
                dst.put(src.slice(src.position(), n));
                src.position(src.position() + n);
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
    }

    private static List<Object> facts(Report r) {
        return List.of(r.kind(), String.valueOf(r.toolstackHeader()), String.valueOf(r.toolstackWidth()),
                String.valueOf(r.guestType()), String.valueOf(r.guestWidth()), r.p2mSize(), r.totalBytes(),
                r.checkpoints(), r.items(), r.pages(), r.pagesPerCheckpoint(), r.tail());
    }

    @ParameterizedTest
    @CsvSource({"PV,LEGACY", "HVM,LEGACY", "PV,V2_LIBXC", "HVM,V2_LIBXL"})
    void aChannelGivesTheSameReportAsTheFileHowEverTheBytesArrive(GuestType guest, SynthOptions.Format format)
            throws Exception {
        byte[] stream = StreamSynth.toBytes(SynthOptions.of(guest, 100).withFormat(format));
        byte[] b = withXlHeader(format == SynthOptions.Format.LEGACY ? 1 : 3, stream);
        Report fromFile = StreamVerifier.verify(write("f", b), StreamVerifier.Options.DETECT);
        assertEquals(Wrapper.XL, fromFile.toolstackHeader());
        assertEquals(facts(fromFile), facts(verify(b)));
        assertEquals(facts(fromFile), facts(StreamVerifier.verify(trickle(b, 7), StreamVerifier.Options.DETECT)));
    }

    @Test
    void aCorruptChunkIdIsReportedAtItsOffset() throws Exception {
        byte[] b = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64));
        // octets 8..11: the first chunk id (TSC_INFO, -7); -30 is no chunk
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -30);
        StreamException e = invalid(b);
        assertEquals(8, e.offset());
        assertTrue(e.getMessage().contains("at offset 8"), e.getMessage());
    }

    @Test
    void aCorruptHvmCpuRecordIsFoundByTheContextParser() throws Exception {
        byte[] b = StreamSynth.toBytes(new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 64, 1, 1, false,
                SynthOptions.Format.LEGACY, 1));
        int qemuRecord = 21 + 4 + 19;
        int blob = 8 + 24 + 8 + 1024 + 8;
        int cr0 = b.length - qemuRecord - blob + 8 + 24 + 8 + HvmHwCpu.CR0;
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(HvmHwCpu.CR0_RESET, bb.getLong(cr0));
        bb.putLong(cr0, 0x60000000L); // ET cleared
        String m = invalid(b).getMessage();
        assertTrue(m.startsWith("HVM_CONTEXT/CPU (code 0x2) at offset " + cr0 + ": CR0 0x60000000 lacks ET"), m);
    }

    @Test
    void aPvVcpuWhoseCr3IsNotAPageTableIsRejected() throws Exception {
        byte[] b = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64));
        long[] vcpu0 = {-1};
        LegacyStreamReader[] r = new LegacyStreamReader[1];
        r[0] = new LegacyStreamReader(LegacyStreamReader.Options.detect(), item -> {
            if (item instanceof PvUnmappedPfns) {
                vcpu0[0] = r[0].offset(); // the first vCPU record follows the unmapped-PFN list
            }
        });
        r[0].feed(ByteBuffer.wrap(b));
        r[0].finish();
        int cr3At = (int) vcpu0[0] + PvVcpuLayout.X64.CTRLREG + 3 * 8;
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0L, bb.getLong(cr3At) >>> 12, "synth puts the L4 at pfn 0");
        bb.putLong(cr3At, 10L << 12); // an ordinary data page
        StreamException e = invalid(b);
        assertEquals("PV_TAIL_VCPU (code 0x0) at offset " + vcpu0[0]
                + ": vcpu 0: CR3 pfn 0xa was not sent as an L4 page table", e.getMessage());
    }

    @Test
    void givenWidthAndGuestAreUsedAndReported() throws Exception {
        byte[] b = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64).withWidths(Width.W32, Width.W64));
        Report r = StreamVerifier.verify(write("h", b), new StreamVerifier.Options(Width.W32, GuestType.HVM));
        assertEquals(Source.GIVEN, r.toolstackWidthSource());
        assertEquals(Source.GIVEN, r.guestTypeSource());
        assertThrows(StreamException.class, () -> StreamVerifier.verify(write("h", b),
                new StreamVerifier.Options(null, GuestType.PV)), "a 32-bit HVM stream read as PV is invalid");
    }

    @ParameterizedTest
    @CsvSource({"LEGACY,bytes after the last checkpoint", "V2_LIBXL,bytes after the libxl END record",
        "V2_LIBXC,bytes after the libxc END record that are not a DeviceModelRecord0002 record"})
    void bytesAfterTheEndAreRefusedAndCounted(SynthOptions.Format format, String problem) throws Exception {
        byte[] good = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(format));
        byte[] b = Arrays.copyOf(good, good.length + 5);
        StreamException e = invalid(b);
        assertEquals("TRAILING_DATA", e.item());
        assertEquals(good.length, e.offset());
        assertTrue(e.getMessage().endsWith(": 5 " + problem), e.getMessage());
    }

    @Test
    void xenConvertersRawQemuRecordAfterABareLibxcStreamIsAccepted() throws Exception {
        XenTools xen = XenTools.require();
        Path in = write("hvm.legacy", StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 200)));
        Path out = dir.resolve("hvm.libxc");
        XenTools.Result c = xen.convertLegacy(in, out, Width.W64, GuestType.HVM, "libxc");
        assertTrue(c.ok(), c.output());
        Report r = StreamVerifier.verify(out, StreamVerifier.Options.DETECT);
        assertEquals(Kind.V2_LIBXC, r.kind());
        assertEquals("DeviceModelRecord0002, 19 bytes", r.tail().get("qemu_record"));
        assertEquals(Files.size(out), r.totalBytes());
        byte[] b = Files.readAllBytes(out);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 19 - 4, 18);
        assertEquals("QEMU_RECORD", invalid(b).item(), "a QEMU record whose length disagrees with the file");
    }

    /** An xl save-file header (docs/wire-format-legacy.md §12.1) with a small JSON config, then {@code stream}. */
    private static byte[] withXlHeader(int mandatoryFlags, byte[] stream) {
        byte[] config = "{\"c_info\": {}}\0".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(48 + 4 + config.length + stream.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1));
        b.putInt(0x01020304).putInt(mandatoryFlags).putInt(0).putInt(4 + config.length);
        b.putInt(config.length).put(config).put(stream);
        return b.array();
    }

    @Test
    void anXlHeaderIsCheckedAndOffsetsStayFileOffsets() throws Exception {
        byte[] legacy = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64));
        byte[] withHeader = withXlHeader(1, legacy);
        int xl = withHeader.length - legacy.length;
        Report r = verify(withHeader);
        assertEquals(Wrapper.XL, r.toolstackHeader());
        assertEquals(Kind.LEGACY, r.kind());
        assertEquals((long) xl, r.tail().get("toolstack_header_bytes"));
        assertEquals(withHeader.length, r.totalBytes());
        DetectedStream d = StreamVerifier.detect(write("d", withHeader), StreamVerifier.Options.DETECT);
        assertEquals(new DetectedStream(Kind.LEGACY, xl, Wrapper.XL, Width.W64, Source.DETECTED, GuestType.HVM,
                Source.DETECTED, d.xlHeader()), d);
        assertEquals(1, d.xlHeader().mandatoryFlags());
        assertEquals(xl - 48 - 4, d.xlHeader().config().length);
        assertEquals("libxl JSON, " + (xl - 52) + " bytes", r.tail().get("xl_config"));

        byte[] v2 = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        assertEquals(Kind.V2_LIBXL, verify(withXlHeader(3, v2)).kind());
        assertTrue(invalid(withXlHeader(1, v2)).getMessage().contains("STREAMv2 flag is clear but a v2 stream follows"));
        assertTrue(invalid(withXlHeader(3, legacy)).getMessage().contains("STREAMv2 flag is set but a legacy stream"));
        assertTrue(invalid(withXlHeader(5, legacy)).getMessage().contains("mandatory_flags 0x5 has bit(s) 0x4"));

        byte[] bad = legacy.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -30);
        StreamException e = invalid(withXlHeader(1, bad));
        assertEquals(xl + 8, e.offset());
        assertTrue(e.getMessage().contains("at offset " + (xl + 8) + ": ")
                && e.getMessage().endsWith("(file offset; the stream starts after a " + xl + "-byte toolstack header)"),
                e.getMessage());
    }

    @Test
    void anXlHeaderLongerThanTheFileIsRefused() throws Exception {
        byte[] h = withXlHeader(1, new byte[0]);
        ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).putInt(44, 1000);
        StreamException e = invalid(h);
        assertEquals("XL_HEADER (code 0x0) at offset " + h.length + ": the file ends inside the 1000 bytes of optional "
                + "data (optional_data_len)", e.getMessage());
    }

    @Test
    void aXendHeaderIsRecognisedBeforeALegacyStreamOnly() throws Exception {
        byte[] legacy = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withWidths(Width.W32, Width.W32));
        byte[] sxp = "(domain (name guest))".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer h = ByteBuffer.allocate(20 + sxp.length + legacy.length); // big-endian config length
        h.put("LinuxGuestRecord".getBytes(StandardCharsets.US_ASCII)).putInt(sxp.length).put(sxp).put(legacy);
        Report r = verify(h.array());
        assertEquals(Wrapper.XEND, r.toolstackHeader());
        assertEquals(Width.W32, r.toolstackWidth());
        assertEquals(Width.W32, r.guestWidth());

        byte[] v2 = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXC));
        ByteBuffer hv = ByteBuffer.allocate(20 + sxp.length + v2.length);
        hv.put("LinuxGuestRecord".getBytes(StandardCharsets.US_ASCII)).putInt(sxp.length).put(sxp).put(v2);
        StreamException e = invalid(hv.array());
        assertEquals("XEND_HEADER", e.item());
        assertEquals(20 + sxp.length, e.offset());
    }

    /**
     * Random damage (one word overwritten, or the stream cut) to small streams of every kind: the verifier
     * answers with a report or with a StreamException of one line naming an offset, never anything else.
     */
    @ParameterizedTest
    @CsvSource({"PV,LEGACY", "HVM,LEGACY", "PV,V2_LIBXL", "HVM,V2_LIBXL"})
    void damagedStreamsGiveOneLineNeverAnotherException(GuestType guest, SynthOptions.Format format) throws Exception {
        byte[] b = StreamSynth.toBytes(new SynthOptions(guest, Width.W32, Width.W64, 20, 1, 2, false, format, 1));
        String formatWord = format == SynthOptions.Format.LEGACY ? "legacy" : "v2";
        SplittableRandom rnd = new SplittableRandom(guest.name().toLowerCase(Locale.ROOT).hashCode() * 31L
                + formatWord.hashCode());
        int invalid = 0;
        for (int i = 0; i < 150; i++) {
            byte[] d;
            if (i % 5 == 0) {
                d = Arrays.copyOf(b, rnd.nextInt(b.length));
            } else {
                d = b.clone();
                // favour the structure-heavy start and end of the stream over page contents
                int at = rnd.nextBoolean() ? rnd.nextInt(Math.min(b.length, 6000)) : b.length - 1 - rnd.nextInt(12000);
                at = Math.max(0, Math.min(at, b.length - 4));
                ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN).putInt(at, rnd.nextInt());
            }
            try {
                verify(d);
            } catch (StreamException e) {
                invalid++;
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
                assertTrue(e.getMessage().matches(".* at offset \\d+: .*"), e.getMessage());
            } catch (IOException | RuntimeException e) {
                throw new AssertionError("damage " + i + ": " + e, e);
            }
        }
        assertTrue(invalid > 30, "truncations and structural damage are detected: " + invalid);
    }

    @Test
    void aTruncatedStreamIsInvalid() throws Exception {
        byte[] b = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 600));
        StreamException e = invalid(Arrays.copyOf(b, b.length - 100));
        assertTrue(e.getMessage().contains("at offset "), e.getMessage());
    }
}
