package dev.migrationd.control.cli.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import dev.migrationd.protocol.testing.XenTools;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code stream convert --to xl}: a save file as the daemon writes it (a legacy or v2 libxc stream and its
 * {@code .meta}) becomes a file in {@code xl save}'s layout, which Xen's {@code verify-stream-v2 -f xl} and our
 * verifier accept; the header and the configuration are read back by an independent parser (Python's
 * struct and json), and a PVH guest's file carries no emulator record.
 */
class ConvertToXlTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = MigrationCtl.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Run(cl.execute(args), out.toString(), err.toString());
    }

    /** A stream from the synthesizer and the metadata the daemon writes beside a save. */
    private Path saveFile(String name, String guest, String format, int pages) throws Exception {
        Path p = dir.resolve(name + ".save");
        Run s = format.equals("v2")
                ? run("stream", "synth", p.toString(), "--guest", guest, "--width", "64", "--pages", Integer.toString(pages), "--stream-format", "v2",
                        "--layer", "libxc")
                : run("stream", "synth", p.toString(), "--guest", guest, "--width", "64", "--pages", Integer.toString(pages));
        assertEquals(0, s.exit(), s.err());
        Files.writeString(dir.resolve(name + ".save.meta"), String.join("\n",
                "format=" + format, "name=" + name, "uuid=5b1c6b4e-2f3a-4c5d-8e9f-0a1b2c3d4e5f", "p2mSize=" + pages,
                "vcpus=2", "guestType=" + guest.toUpperCase(), "guestWidth=64", ""));
        return p;
    }

    /** Evaluates a Python expression on the xl file: h = the header's five fields, cfg = the parsed JSON config. */
    private static String python(Path xl, String expr) throws Exception {
        String script = "import json,struct,sys\n"
                + "b=open(sys.argv[1],'rb').read()\n"
                + "h=struct.unpack_from('<32sIIII',b,0)\n"
                + "n=struct.unpack_from('<I',b,48)[0]\n"
                + "cfg=json.loads(b[52:52+n].rstrip(b'\\0').decode())\n"
                + "print(" + expr + ")\n";
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, xl.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @ParameterizedTest
    @CsvSource({"pv,legacy,", "hvm,legacy,hvm", "hvm,legacy,pvh", "pv,v2,", "hvm,v2,pvh"})
    void aSaveFileBecomesAnXlFileThatXensVerifierAccepts(String guest, String format, String xlType) throws Exception {
        Path in = saveFile("g-" + guest + "-" + format, guest, format, 1024);
        Path out = dir.resolve("out.xl");
        Run c = xlType == null
                ? run("stream", "convert", in.toString(), out.toString(), "--to", "xl")
                : run("stream", "convert", in.toString(), out.toString(), "--to", "xl", "--xl-type", xlType, "--memory", "4MiB");
        assertEquals(0, c.exit(), c.err());

        XenTools.Result x = XenTools.require().verifyV2(out, "xl");
        assertTrue(x.ok(), "verify-stream-v2 -f xl:\n" + x.output());
        Run ours = run("stream", "verify", out.toString());
        assertEquals(0, ours.exit(), ours.err());
        assertTrue(ours.out().contains("valid v2 libxl stream, " + guest + " guest"), ours.out());

        String type = xlType == null ? guest : xlType;
        assertEquals("b'Xen saved domain, xl format\\n \\x00 \\r'|16909060|3|0",
                python(out, "'|'.join(map(str, h[:4]))"), "magic, byte order, JSON|STREAMv2, no optional flags");
        assertEquals(type + "|g-" + guest + "-" + format + "|5b1c6b4e-2f3a-4c5d-8e9f-0a1b2c3d4e5f|2|[0, 1]|4096",
                python(out, "'|'.join(map(str, (cfg['c_info']['type'], cfg['c_info']['name'], cfg['c_info']['uuid'],"
                        + " cfg['b_info']['max_vcpus'], cfg['b_info']['avail_vcpus'], cfg['b_info']['max_memkb'])))"));
        assertEquals("True", python(out, "'type." + type + "' in cfg['b_info'] and h[4] == 4 + n and b[52+n-1] == 0"));

        Run j = run("stream", "inspect", out.toString(), "--format", "json");
        assertEquals(0, j.exit(), j.err());
        boolean emulator = j.out().contains("EMULATOR_CONTEXT");
        assertEquals(guest.equals("hvm") && format.equals("legacy") && !"pvh".equals(xlType), emulator,
                "an emulator record only for an HVM guest whose stream had a QEMU record, never for PVH: " + j.out());
    }

    @Test
    void anHvmGuestsMemoryMustBeSaidAndAnOperatorsConfigIsKeptAsItIs() throws Exception {
        Path in = saveFile("g-hvm", "hvm", "legacy", 512);
        Path out = dir.resolve("out.xl");
        Run noMemory = run("stream", "convert", in.toString(), out.toString(), "--to", "xl");
        assertEquals(ExitCode.USAGE, noMemory.exit());
        assertTrue(noMemory.err().contains("give --memory SIZE"), noMemory.err());
        assertTrue(Files.notExists(out));

        Path cfg = Files.writeString(dir.resolve("g.cfg"), "name = \"g-hvm\"\ntype = \"pvh\"\nmemory = 2\nvcpus = 2\n");
        Run noType = run("stream", "convert", in.toString(), out.toString(), "--to", "xl", "--config", cfg.toString());
        assertEquals(ExitCode.USAGE, noType.exit());
        Run c = run("stream", "convert", in.toString(), out.toString(), "--to", "xl", "--config", cfg.toString(),
                "--xl-type", "pvh");
        assertEquals(0, c.exit(), c.err());
        byte[] o = Files.readAllBytes(out);
        assertEquals(2, o[36], "xl config-file syntax: STREAMv2 without the JSON flag");
        assertEquals(Files.readString(cfg), new String(o, 52, (int) Files.size(cfg), StandardCharsets.UTF_8));
        assertTrue(XenTools.require().verifyV2(out, "xl").ok());

        Run again = run("stream", "convert", out.toString(), dir.resolve("twice.xl").toString(), "--to", "xl");
        assertEquals(ExitCode.USAGE, again.exit());
        assertTrue(again.err().contains("already has an xl header"), again.err());
    }

    @Test
    void theDomainsOwnLibxlConfigurationSavedBesideTheFileGoesIntoTheHeaderAndInspectShowsIt() throws Exception {
        Path in = saveFile("g-pv", "pv", "v2", 512);
        String libxlJson = "{\n    \"c_info\": {\n        \"type\": \"pv\",\n        \"name\": \"g-pv\"\n    },\n"
                + "    \"b_info\": {\n        \"max_vcpus\": 2,\n        \"type.pv\": {\n            \"kernel\": \"/k\"\n        }\n    }\n}\n";
        java.util.Properties meta = new java.util.Properties();
        try (var r = Files.newInputStream(dir.resolve("g-pv.save.meta"))) {
            meta.load(r);
        }
        meta.setProperty("toolstackConfig", libxlJson);
        try (var w = Files.newOutputStream(dir.resolve("g-pv.save.meta"))) {
            meta.store(w, null);
        }
        Path out = dir.resolve("out.xl");
        Run c = run("stream", "convert", in.toString(), out.toString(), "--to", "xl");
        assertEquals(0, c.exit(), c.err());
        assertEquals("/k", python(out, "cfg['b_info']['type.pv']['kernel']"), "the saved configuration, not a generated one");
        assertTrue(XenTools.require().verifyV2(out, "xl").ok());

        Run text = run("stream", "inspect", out.toString());
        assertEquals(0, text.exit(), text.err());
        assertTrue(text.out().contains("xl header:       xl save-file header: mandatory flags 0x3 (JSON, STREAMv2)"),
                text.out());
        assertTrue(text.out().contains("xl config (libxl JSON):\n  {\n      \"c_info\": {"), text.out());
        Run v = run("stream", "verify", out.toString());
        assertTrue(v.out().contains("xl header (JSON configuration of " + (libxlJson.length() + 1) + " bytes)"), v.out());
        Run j = run("stream", "inspect", out.toString(), "--format", "json");
        assertTrue(j.out().contains("\"config_format\": \"json\""), j.out());
    }
}
