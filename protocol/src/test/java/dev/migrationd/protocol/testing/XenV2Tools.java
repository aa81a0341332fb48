package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Xen's own stream tools ({@code verify-stream-v2}, {@code convert-legacy-stream}) on byte arrays: a
 * convenience over {@link XenTools}, which finds and runs them (a missing tool fails the test with a
 * message saying how to install it, never a silent skip).
 */
public final class XenV2Tools {

    /** A tool run: exit status, stdout, stderr and, for a conversion, the converted bytes. */
    public record Result(int exitCode, String stdout, String stderr, byte[] output) {
        public boolean ok() {
            return exitCode == 0;
        }

        public String describe() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    private XenV2Tools() {
    }

    /** Fails (AssertionError) when the tools are not installed. */
    public static void requireTools() {
        XenTools.require();
    }

    /** {@code verify-stream-v2 -f FORMAT -v} on {@code stream}; format is libxc, libxl or xl. */
    public static Result verifyStreamV2(byte[] stream, String format) throws IOException, InterruptedException {
        XenTools tools = XenTools.require();
        Path dir = Files.createTempDirectory("xen-verify");
        try {
            Path in = dir.resolve("in.v2");
            Files.write(in, stream);
            XenTools.Result r = tools.verifyV2(in, format);
            return new Result(r.exitCode(), r.stdout(), r.stderr(), new byte[0]);
        } finally {
            deleteTree(dir);
        }
    }

    /**
     * {@code convert-legacy-stream -i IN -o OUT -w W -g pv|hvm -f FORMAT [extra…]}; the converted bytes are
     * in {@link Result#output()}.
     */
    public static Result convertLegacyStream(byte[] legacy, Width toolstackWidth, GuestType guest, String format,
            String... extra) throws IOException, InterruptedException {
        XenTools tools = XenTools.require();
        Path dir = Files.createTempDirectory("xen-convert");
        try {
            Path in = dir.resolve("in.legacy");
            Path out = dir.resolve("out.v2");
            Files.write(in, legacy);
            XenTools.Result r = tools.convertLegacy(in, out, toolstackWidth, guest, format, extra);
            byte[] converted = Files.exists(out) ? Files.readAllBytes(out) : new byte[0];
            return new Result(r.exitCode(), r.stdout(), r.stderr(), converted);
        } finally {
            deleteTree(dir);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
