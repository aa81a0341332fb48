package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthGuest;
import dev.migrationd.protocol.synth.SynthOptions;
import dev.migrationd.protocol.testing.XenTools;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Runs {@code migrationctl stream ...} in-process and checks stdout, stderr, exit codes and files. */
class StreamCommandsTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
        List<String> errLines() {
            return err.isEmpty() ? List.of() : Arrays.asList(err.split("\n"));
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = MigrationCtl.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private Path synth(String name, String... extra) {
        Path p = dir.resolve(name);
        String[] base = {"stream", "synth", p.toString()};
        Run r = run(Stream.concat(Arrays.stream(base), Arrays.stream(extra)).toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        assertEquals("", r.err());
        assertTrue(Files.isRegularFile(p));
        return p;
    }

    private List<String> dirListing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Parses JSON with python's json module (an independent parser) and evaluates a Python expression on it. */
    private static String jsonEval(String json, String expr) throws Exception {
        Process p = new ProcessBuilder("/usr/bin/python3", "-c",
                "import json,sys; d=json.load(sys.stdin); print(" + expr + ")").redirectErrorStream(true).start();
        p.getOutputStream().write(json.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "python json: " + out);
        return out;
    }

    @Test
    void synthWritesExactlyWhatStreamSynthWrites() throws Exception {
        Path p = synth("hvm.img", "--guest", "hvm", "--width", "64", "--pages", "300", "--seed", "9");
        byte[] expected = StreamSynth.toBytes(new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 300, 9, 1, false,
                SynthOptions.Format.LEGACY, 2));
        assertArrayEquals(expected, Files.readAllBytes(p));
        assertEquals(List.of("hvm.img"), dirListing(), "no temporary file left behind");
    }

    @Test
    void inspectTextSummarisesALegacyPvStream() {
        Path p = synth("pv.img", "--guest", "pv", "--width", "32", "--guest-width", "32", "--pages", "2048");
        Run r = run("stream", "inspect", p.toString());
        assertEquals(0, r.exit(), r.err());
        String t = r.out();
        assertTrue(t.contains("format:          legacy (libxc layer)"), t);
        assertTrue(t.contains("toolstack width: 32-bit (detected)"), t);
        assertTrue(t.contains("guest type:      pv (detected)"), t);
        assertTrue(t.contains("guest width:     32-bit"), t);
        assertTrue(t.contains("p2m size:        0x800 (2048 pfns)"), t);
        assertTrue(t.contains("checkpoints:     1"), t);
        assertTrue(t.matches("(?s).*PAGE_BATCH\\s+2 x\\s+\\d+ bytes.*"), t);
        assertTrue(t.contains("pages: 2048"), t);
        assertTrue(t.matches("(?s).*L3TAB_PINNED\\s+1\n.*"), t);
        assertTrue(t.matches("(?s).*L1TAB_PINNED\\s+2\n.*"), t);
        assertTrue(t.contains("vcpus: 2"), t);
        assertTrue(t.contains("xsave_len: 608"), t);
    }

    @Test
    void inspectJsonIsValidJsonWithTheFacts() throws Exception {
        Path p = synth("hvm.img", "--guest", "hvm", "--width", "64", "--pages", "4096", "--checkpoints", "3");
        Run r = run("stream", "inspect", p.toString(), "--format", "json");
        assertEquals(0, r.exit(), r.err());
        String j = r.out();
        assertEquals("legacy libxc 64 hvm 4096 3", jsonEval(j,
                "d['format'], d['layer'], d['toolstack_width'], d['guest_type'], d['p2m_size'], d['checkpoints']")
                .replaceAll("[(),']", ""));
        assertEquals(String.valueOf(Files.size(p)), jsonEval(j, "d['total_bytes']"));
        assertEquals(String.valueOf(Files.size(p)), jsonEval(j, "sum(v['bytes'] for v in d['items'].values())"),
                "per-item bytes add up to the file size");
        assertEquals("3", jsonEval(j, "d['items']['QEMU_RECORD']['count']"));
        assertEquals("['HEADER', 'CPU[0]', 'CPU[1]', 'END']", jsonEval(j, "d['tail']['hvm_context_records']"));
        SynthGuest g = new SynthGuest(new SynthOptions(GuestType.HVM, Width.W64, Width.W64, 4096, 1, 3, false,
                SynthOptions.Format.LEGACY, 2));
        List<Long> expected = new java.util.ArrayList<>();
        for (int k = 0; k < 3; k++) {
            long n = 0;
            for (long pfn = 0; pfn < 4096; pfn++) {
                n += g.sentIn(pfn, k) ? 1 : 0;
            }
            expected.add(n);
        }
        assertEquals(4096 - 32, expected.get(0)); // the VGA hole is not sent
        assertEquals(expected.toString(), jsonEval(j, "d['pages_per_checkpoint']"));
        assertEquals(String.valueOf(expected.stream().mapToLong(Long::longValue).sum()), jsonEval(j, "d['pages']['NOTAB']"));
        // the same guest as v2: the same checkpoints
        Path v2 = synth("hvm.v2", "--guest", "hvm", "--width", "64", "--pages", "4096", "--checkpoints", "3",
                "--stream-format", "v2", "--layer", "libxc");
        Run rv = run("stream", "inspect", v2.toString(), "--format", "json");
        assertEquals(0, rv.exit(), rv.err());
        assertEquals(expected.toString(), jsonEval(rv.out(), "d['pages_per_checkpoint']"));
        assertEquals("3", jsonEval(rv.out(), "d['checkpoints']"));
    }

    @ParameterizedTest
    @CsvSource({"pv,libxc", "pv,libxl", "hvm,libxc", "hvm,libxl"})
    void convertOutputIsAcceptedByVerifyStreamV2AndOurVerify(String guest, String layer) throws Exception {
        Path in = synth(guest + ".img", "--guest", guest, "--width", "64", "--pages", "1500");
        Path out = dir.resolve(guest + "." + layer);
        Run c = run("stream", "convert", in.toString(), out.toString(), "--to", "v2", "--layer", layer);
        assertEquals(0, c.exit(), c.err());
        assertEquals("", c.out() + c.err());
        XenTools.Result v = XenTools.require().verifyV2(out, layer);
        assertTrue(v.ok(), "verify-stream-v2 -f " + layer + ":\n" + v.output());
        Run ours = run("stream", "verify", out.toString());
        assertEquals(0, ours.exit(), ours.err());
        assertTrue(ours.out().startsWith(out + ": valid v2 " + layer + " stream, " + guest + " guest"), ours.out());
        Run j = run("stream", "inspect", out.toString(), "--format", "json");
        assertEquals(0, j.exit(), j.err());
        long populated = guest.equals("pv") ? 1500 : 1500 - 32; // HVM: the VGA hole is not sent
        assertEquals(String.valueOf(populated), jsonEval(j.out(), "sum(d['pages'].values())"));
        assertEquals(String.valueOf(Files.size(out)), jsonEval(j.out(), "sum(v['bytes'] for v in d['items'].values())"),
                "per-record bytes add up to the file size");
        if (guest.equals("pv")) {
            assertEquals("1500 64", jsonEval(j.out(), "d['p2m_size'], d['guest_width']").replaceAll("[(),]", ""));
        } else {
            assertTrue(jsonEval(j.out(), "d['tail']['qemu_record'] if 'qemu_record' in d['tail'] else "
                    + "d['tail']['emulator_context_bytes']").matches("DeviceModelRecord0002, 19 bytes|19"), j.out());
        }
    }

    @Test
    void verifyAcceptsSynthesisedStreamsOfEveryFormat() {
        for (String[] f : new String[][] {{"--stream-format", "legacy"}, {"--stream-format", "v2", "--layer", "libxc"},
            {"--stream-format", "v2", "--layer", "libxl"}}) {
            Path p = synth("s-" + String.join("", f), Stream.concat(Stream.of("--guest", "hvm", "--width", "64",
                    "--pages", "64"), Arrays.stream(f)).toArray(String[]::new));
            Run r = run("stream", "verify", p.toString());
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().contains(": valid "), r.out());
        }
    }

    @Test
    void corruptChunkIdGivesOneLineWithItsOffset() throws Exception {
        Path p = synth("hvm.img", "--guest", "hvm", "--width", "64", "--pages", "64");
        byte[] b = Files.readAllBytes(p);
        // octets 8..11: the first chunk id (TSC_INFO, -7); -30 is no chunk
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -30);
        Files.write(p, b);
        Run r = run("stream", "verify", p.toString());
        assertEquals(ExitCode.INVALID_STREAM, r.exit());
        assertEquals("", r.out());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().contains("at offset 8"), r.err());
        assertTrue(r.err().startsWith("migrationctl: invalid stream: "), r.err());
    }

    @Test
    void truncatedStreamIsInvalidAndConvertLeavesNothingBehind() throws Exception {
        Path p = synth("pv.img", "--guest", "pv", "--width", "64", "--pages", "600");
        byte[] b = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(b, b.length - 100));
        Run v = run("stream", "verify", p.toString());
        assertEquals(ExitCode.INVALID_STREAM, v.exit());
        assertEquals(1, v.errLines().size(), v.err());
        assertTrue(v.err().contains("at offset "), v.err());
        Run c = run("stream", "convert", p.toString(), dir.resolve("out.v2").toString(), "--to", "v2");
        assertEquals(ExitCode.INVALID_STREAM, c.exit(), c.err());
        assertEquals(1, c.errLines().size(), c.err());
        assertEquals(List.of("pv.img"), dirListing(), "no partial output, no temporary file");
    }

    @Test
    void outputsAreNeverReplacedWithoutForce() throws Exception {
        Path p = dir.resolve("out.img");
        Files.writeString(p, "precious");
        Run r = run("stream", "synth", p.toString(), "--guest", "hvm", "--width", "64", "--pages", "16");
        assertEquals(ExitCode.USAGE, r.exit());
        assertEquals(1, r.errLines().size(), r.err());
        assertTrue(r.err().contains("exists; use --force"), r.err());
        assertEquals("precious", Files.readString(p));
        Path src = synth("src.img", "--guest", "hvm", "--width", "64", "--pages", "16");
        Run c = run("stream", "convert", src.toString(), p.toString(), "--to", "v2");
        assertEquals(ExitCode.USAGE, c.exit());
        assertEquals("precious", Files.readString(p));

        Run forced = run("stream", "synth", p.toString(), "--guest", "hvm", "--width", "64", "--pages", "16", "--force");
        assertEquals(0, forced.exit(), forced.err());
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(p));
        Run conv = run("stream", "convert", src.toString(), p.toString(), "--to", "v2", "--force");
        assertEquals(0, conv.exit(), conv.err());
        assertEquals("LibxlFmt", new String(Files.readAllBytes(p), 0, 8, StandardCharsets.US_ASCII));
        assertTrue(run("stream", "verify", p.toString()).out().contains("valid v2 libxl"));
        assertEquals(List.of("out.img", "src.img"), dirListing());
    }

    @Test
    void usageErrorsExitTwoWithOneMessage() {
        Path p = dir.resolve("x");
        Run compress = run("stream", "synth", p.toString(), "--guest", "pv", "--width", "64", "--pages", "64",
                "--compress");
        assertEquals(ExitCode.USAGE, compress.exit());
        assertTrue(compress.err().contains("--compress needs --checkpoints 2 or more"), compress.err());
        Run width = run("stream", "synth", p.toString(), "--guest", "pv", "--width", "48", "--pages", "64");
        assertEquals(ExitCode.USAGE, width.exit());
        assertTrue(width.err().contains("'48' is not a width"), width.err());
        Run small = run("stream", "synth", p.toString(), "--guest", "pv", "--width", "64", "--pages", "4");
        assertEquals(ExitCode.USAGE, small.exit());
        assertTrue(small.err().contains("pages must be in 16.."), small.err());
        Run gw = run("stream", "synth", p.toString(), "--guest", "hvm", "--width", "64", "--pages", "64",
                "--guest-width", "32");
        assertEquals(ExitCode.USAGE, gw.exit());
        Run missing = run("stream", "synth", p.toString(), "--guest", "hvm");
        assertEquals(ExitCode.USAGE, missing.exit());
        assertTrue(missing.err().contains("Missing required option"), missing.err());
        assertFalse(Files.exists(p));
        Run noCmd = run("stream");
        assertEquals(ExitCode.USAGE, noCmd.exit());
    }

    @Test
    void missingInputIsAnIoError() {
        Run r = run("stream", "inspect", dir.resolve("nope").toString());
        assertEquals(ExitCode.IO, r.exit());
        assertEquals(List.of("migrationctl: no such file: " + dir.resolve("nope")), r.errLines());
    }

    @Test
    void helpDocumentsExitCodes() {
        for (String cmd : new String[] {"inspect", "verify", "convert", "synth"}) {
            Run r = run("stream", cmd, "--help");
            assertEquals(0, r.exit());
            assertTrue(r.out().contains("Exit codes:") && r.out().contains("invalid stream")
                    && r.out().matches("(?s).*\\n\\s*6\\s+I/O error.*"), r.out());
        }
    }

    @Test
    void widthAndGuestOverridesAreReported() {
        Path p = synth("hvm.img", "--guest", "hvm", "--width", "32", "--pages", "64");
        Run r = run("stream", "inspect", p.toString(), "--width", "32", "--guest", "hvm");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("toolstack width: 32-bit (--width)"), r.out());
        assertTrue(r.out().contains("guest type:      hvm (--guest)"), r.out());
        Run wrong = run("stream", "verify", p.toString(), "--guest", "pv");
        assertEquals(ExitCode.INVALID_STREAM, wrong.exit(), "a 32-bit HVM stream read as PV is invalid");
        assertEquals(1, wrong.errLines().size(), wrong.err());
    }

    /** An xl save-file header (docs/wire-format-legacy.md §12.1) with {@code config} as its optional data. */
    private static byte[] xlHeader(int mandatoryFlags, byte[] config) {
        ByteBuffer b = ByteBuffer.allocate(48 + 4 + config.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1));
        b.putInt(0x01020304).putInt(mandatoryFlags).putInt(0).putInt(4 + config.length);
        b.putInt(config.length).put(config);
        return b.array();
    }

    private Path withXlHeader(String name, int flags, byte[] stream) throws IOException {
        byte[] h = xlHeader(flags, "{\"c_info\": {}}\0".getBytes(StandardCharsets.US_ASCII));
        byte[] all = Arrays.copyOf(h, h.length + stream.length);
        System.arraycopy(stream, 0, all, h.length, stream.length);
        return Files.write(dir.resolve(name), all);
    }

    @Test
    void xlHeaderIsRecognisedAndOffsetsStayFileOffsets() throws Exception {
        byte[] legacy = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64));
        Path p = withXlHeader("legacy.xl", 1, legacy);
        int xl = (int) (Files.size(p) - legacy.length);
        Run r = run("stream", "inspect", p.toString(), "--format", "json");
        assertEquals(0, r.exit(), r.err());
        assertEquals("xl legacy hvm " + xl, jsonEval(r.out(), "d['toolstack_header'], d['format'], d['guest_type'], "
                + "d['tail']['toolstack_header_bytes']").replaceAll("[(),']", ""));

        byte[] v2 = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        Run v = run("stream", "verify", withXlHeader("v2.xl", 3, v2).toString());
        assertEquals(0, v.exit(), v.err());
        assertTrue(v.out().contains("valid v2 libxl stream, pv guest"), v.out());

        Run mismatch = run("stream", "verify", withXlHeader("bad.xl", 1, v2).toString());
        assertEquals(ExitCode.INVALID_STREAM, mismatch.exit());
        assertTrue(mismatch.err().contains("STREAMv2 flag is clear but a v2 stream follows"), mismatch.err());

        byte[] bad = legacy.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -30);
        Run off = run("stream", "verify", withXlHeader("corrupt.xl", 1, bad).toString());
        assertEquals(ExitCode.INVALID_STREAM, off.exit());
        assertEquals(1, off.errLines().size(), off.err());
        assertTrue(off.err().contains("at offset " + (xl + 8) + ": "), off.err());
    }

    @Test
    void xendHeaderIsRecognised() throws Exception {
        byte[] legacy = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withWidths(Width.W32, Width.W32));
        byte[] sxp = "(domain (name guest))".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer h = ByteBuffer.allocate(20 + sxp.length + legacy.length); // big-endian config length
        h.put("LinuxGuestRecord".getBytes(StandardCharsets.US_ASCII)).putInt(sxp.length).put(sxp).put(legacy);
        Path p = Files.write(dir.resolve("xend.img"), h.array());
        Run r = run("stream", "inspect", p.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("format:          legacy (libxc layer), xend header"), r.out());
        assertTrue(r.out().contains("toolstack width: 32-bit (detected)"), r.out());
        assertTrue(r.out().contains("guest width:     32-bit"), r.out());
        Run c = run("stream", "convert", p.toString(), dir.resolve("x.v2").toString(), "--to", "v2");
        assertEquals(ExitCode.INTERNAL, c.exit());
        assertTrue(c.err().contains("not implemented yet: converting a stream with a xend header"), c.err());
    }

    @Test
    void convertKeepsAnXlHeaderAndSetsStreamV2() throws Exception {
        byte[] legacy = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 128));
        Path in = withXlHeader("in.xl", 1, legacy);
        int xl = (int) (Files.size(in) - legacy.length);
        Path out = dir.resolve("out.xl");
        Run libxc = run("stream", "convert", in.toString(), out.toString(), "--to", "v2", "--layer", "libxc");
        assertEquals(ExitCode.USAGE, libxc.exit());
        assertTrue(libxc.err().contains("use --layer libxl"), libxc.err());
        Run c = run("stream", "convert", in.toString(), out.toString(), "--to", "v2");
        assertEquals(0, c.exit(), c.err());
        byte[] o = Files.readAllBytes(out);
        byte[] inHead = Arrays.copyOf(Files.readAllBytes(in), xl);
        inHead[36] |= 2; // STREAMv2
        assertArrayEquals(inHead, Arrays.copyOf(o, xl));
        assertEquals("LibxlFmt", new String(o, xl, 8, StandardCharsets.US_ASCII));
        Run v = run("stream", "verify", out.toString());
        assertEquals(0, v.exit(), v.err());
        assertTrue(v.out().contains("valid v2 libxl stream, hvm guest"), v.out());
        Path bare = Files.write(dir.resolve("bare.v2"), Arrays.copyOfRange(o, xl, o.length));
        XenTools.Result x = XenTools.require().verifyV2(bare, "libxl");
        assertTrue(x.ok(), x.output());
    }
}
