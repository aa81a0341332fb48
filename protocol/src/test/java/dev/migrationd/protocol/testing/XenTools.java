package dev.migrationd.protocol.testing;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Runs Xen's own stream tools ({@code convert-legacy-stream}, {@code verify-stream-v2} from Debian's
 * xen-utils-4.17, docs/wire-format-legacy.md §16) as test oracles. Missing tools are a test failure, never a skip:
 * {@link #require()} throws with what to install.
 *
 * <p>Location: {@code $XENLIB} (default {@code /usr/lib/xen-4.17}) with {@code bin/} and {@code lib/python};
 * interpreter {@code $XEN_PYTHON} (default {@code /usr/bin/python3}, not the pyenv one on PATH).
 */
public final class XenTools {
    /** Exit status, the command and its stdout and stderr, of one tool run. */
    public record Result(int exitCode, String command, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** The command and everything it printed, for assertion messages. */
        public String output() {
            return command + "\n" + stdout + stderr;
        }
    }

    private static final long TIMEOUT_SECONDS = 120;

    private final Path xenlib;
    private final Path python;

    private XenTools(Path xenlib, Path python) {
        this.xenlib = xenlib;
        this.python = python;
    }

    /** The tools, or an AssertionError that says what is missing and how to install it. */
    public static XenTools require() {
        Path lib = Path.of(env("XENLIB", "/usr/lib/xen-4.17"));
        Path py = Path.of(env("XEN_PYTHON", "/usr/bin/python3"));
        List<String> missing = new ArrayList<>();
        for (Path p : List.of(lib.resolve("bin/convert-legacy-stream"), lib.resolve("bin/verify-stream-v2"),
                lib.resolve("lib/python/xen/migration/legacy.py"), py)) {
            if (!Files.isRegularFile(p)) {
                missing.add(p.toString());
            }
        }
        if (!missing.isEmpty()) {
            throw new AssertionError("Xen stream tools missing: " + missing + ". Install Debian's xen-utils-4.17 "
                    + "(apt-get install xen-utils-4.17) or set XENLIB to an unpacked copy (dpkg -x) and XEN_PYTHON "
                    + "to a python3; see docs/wire-format-legacy.md §16");
        }
        return new XenTools(lib, py);
    }

    private static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? dflt : v;
    }

    /** {@code convert-legacy-stream -i in -o out -w 32|64 -g pv|hvm -f libxc|libxl -v [extra…]}. */
    public Result convertLegacy(Path in, Path out, Width width, GuestType guest, String format, String... extra)
            throws IOException {
        List<String> args = new ArrayList<>(List.of(xenlib.resolve("bin/convert-legacy-stream").toString(), "-i",
                in.toString(), "-o", out.toString(), "-w", Integer.toString(width.bits()), "-g",
                guest.name().toLowerCase(Locale.ROOT), "-f", format, "-v"));
        args.addAll(List.of(extra));
        return run(args);
    }

    /** {@code verify-stream-v2 -i in -f libxc|libxl|xl -v}. */
    public Result verifyV2(Path in, String format) throws IOException {
        return run(List.of(xenlib.resolve("bin/verify-stream-v2").toString(), "-i", in.toString(), "-f", format,
                "-v"));
    }

    private Result run(List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(python.toString());
        cmd.addAll(args);
        Path logs = Files.createTempDirectory("xen-tool");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectOutput(logs.resolve("stdout").toFile())
                    .redirectError(logs.resolve("stderr").toFile());
            pb.environment().put("PYTHONPATH", xenlib.resolve("lib/python").toString());
            Process p = pb.start();
            try {
                if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new AssertionError("timed out after " + TIMEOUT_SECONDS + " s: " + cmd);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new IOException("interrupted running " + cmd, e);
            }
            return new Result(p.exitValue(), String.join(" ", cmd),
                    Files.readString(logs.resolve("stdout"), StandardCharsets.UTF_8),
                    Files.readString(logs.resolve("stderr"), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(logs.resolve("stdout"));
            Files.deleteIfExists(logs.resolve("stderr"));
            Files.deleteIfExists(logs);
        }
    }
}
