package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Xen's own stream tools from Debian's {@code xen-utils-4.17} ({@code verify-stream-v2},
 * {@code convert-legacy-stream}) as test oracles. They must be installed: a missing tool fails the
 * test with a message saying how to install it (never a silent skip).
 */
public final class XenV2Tools {
    private XenV2Tools() {
    }

    /** {@code XENLIB}: where the package puts the tools and their Python library. */
    public static final Path XENLIB = Path.of(System.getProperty("xen.lib", "/usr/lib/xen-4.17"));
    public static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final long TIMEOUT_SECONDS = 120;

    /** Exit code and output of one tool run; {@code output} is the file the tool wrote, if any. */
    public record Result(int exitCode, String stdout, String stderr, byte[] output) {
        public boolean ok() {
            return exitCode == 0;
        }

        public String describe() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    /** Fails (AssertionError) when the tools are not installed. */
    public static void requireTools() {
        for (Path p : List.of(PYTHON, tool("verify-stream-v2"), tool("convert-legacy-stream"),
                XENLIB.resolve("lib/python/xen/migration/libxc.py"))) {
            if (!Files.isRegularFile(p)) {
                throw new AssertionError("Xen stream tools missing: " + p + " not found. Install them with "
                        + "`apt-get install xen-utils-4.17` (or set -Dxen.lib=DIR to an unpacked package's "
                        + "usr/lib/xen-4.17)");
            }
        }
    }

    private static Path tool(String name) {
        return XENLIB.resolve("bin").resolve(name);
    }

    /** {@code verify-stream-v2 -f FORMAT -v} on {@code stream}; format is libxc, libxl or xl. */
    public static Result verifyStreamV2(byte[] stream, String format) throws IOException, InterruptedException {
        requireTools();
        Path dir = Files.createTempDirectory("xen-verify");
        try {
            Path in = dir.resolve("in.v2");
            Files.write(in, stream);
            return run(dir, null, tool("verify-stream-v2").toString(), "-i", in.toString(), "-f", format, "-v");
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
        requireTools();
        Path dir = Files.createTempDirectory("xen-convert");
        try {
            Path in = dir.resolve("in.legacy");
            Path out = dir.resolve("out.v2");
            Files.write(in, legacy);
            List<String> args = new ArrayList<>(List.of(tool("convert-legacy-stream").toString(), "-i",
                    in.toString(), "-o", out.toString(), "-w", Integer.toString(toolstackWidth.bits()), "-g",
                    guest == GuestType.PV ? "pv" : "hvm", "-f", format));
            args.addAll(List.of(extra));
            return run(dir, out, args.toArray(String[]::new));
        } finally {
            deleteTree(dir);
        }
    }

    private static Result run(Path dir, Path output, String... toolAndArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(PYTHON.toString());
        cmd.addAll(List.of(toolAndArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().put("PYTHONPATH", XENLIB.resolve("lib/python").toString());
        pb.redirectOutput(dir.resolve("stdout").toFile());
        pb.redirectError(dir.resolve("stderr").toFile());
        Process p = pb.start();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out after " + TIMEOUT_SECONDS + " s: " + cmd);
        }
        byte[] out = output != null && Files.exists(output) ? Files.readAllBytes(output) : new byte[0];
        return new Result(p.exitValue(), Files.readString(dir.resolve("stdout"), StandardCharsets.UTF_8),
                Files.readString(dir.resolve("stderr"), StandardCharsets.UTF_8), out);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
