package dev.migrationd.protocol.synth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Xen's own stream tools from Debian's xen-utils-4.17 (legacy-stream.md §16) as test oracles.
 * Missing tools are a test failure with an actionable message, never a silent skip.
 */
public final class XenTools {
    public static final Path XENLIB = Path.of("/usr/lib/xen-4.17");
    public static final Path PYTHON = Path.of("/usr/bin/python3");

    /** Exit status and combined output of one tool run. */
    public record Result(int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    private XenTools() {
    }

    /** Throws AssertionError naming the package to install when the tools are missing. */
    public static void requireInstalled() {
        for (Path p : List.of(PYTHON, XENLIB.resolve("bin/convert-legacy-stream"), XENLIB.resolve("bin/verify-stream-v2"),
                XENLIB.resolve("lib/python/xen/migration/verify.py"))) {
            if (!Files.exists(p)) {
                throw new AssertionError("Xen stream tools missing (" + p + "): apt-get install xen-utils-4.17");
            }
        }
    }

    /** {@code convert-legacy-stream -i in -o out -w W -g pv|hvm -f libxc|libxl}. */
    public static Result convert(Path in, Path out, int widthBits, String guest, String format)
            throws IOException, InterruptedException {
        return run("convert-legacy-stream", "-i", in.toString(), "-o", out.toString(), "-w",
                Integer.toString(widthBits), "-g", guest, "-f", format);
    }

    /** {@code verify-stream-v2 -i in -f libxc|libxl}. */
    public static Result verify(Path in, String format) throws IOException, InterruptedException {
        return run("verify-stream-v2", "-i", in.toString(), "-f", format);
    }

    private static Result run(String tool, String... args) throws IOException, InterruptedException {
        requireInstalled();
        List<String> cmd = new ArrayList<>(List.of(PYTHON.toString(), XENLIB.resolve("bin/" + tool).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", XENLIB.resolve("lib/python").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(tool + " timed out");
        }
        return new Result(p.exitValue(), out);
    }
}
