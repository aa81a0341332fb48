package dev.migrationd.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs short system commands (ip, nft, mount, kill) with a bounded wait: a command that does not end in
 * time is killed and reported, so no step of the suite can hang on one.
 *
 * <p>Thread-safe: every call is independent.
 */
final class Sh {

    /** Longest a system command may take. */
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(20);

    private Sh() {
    }

    record Result(int code, String output) {
        boolean ok() {
            return code == 0;
        }
    }

    /** Runs {@code cmd}; its standard output and error together. Never throws for a non-zero exit. */
    static Result run(List<String> cmd, String stdin) {
        Path out = null;
        try {
            out = Files.createTempFile("fault-suite-sh", ".out");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
            if (stdin == null) {
                pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
            }
            Process p = pb.start();
            if (stdin != null) {
                try (var in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                return new Result(-1, String.join(" ", cmd) + ": did not end within " + COMMAND_TIMEOUT.toSeconds() + " s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            return new Result(-1, String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, String.join(" ", cmd) + ": interrupted");
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // a temporary file
                }
            }
        }
    }

    static Result run(String... cmd) {
        return run(List.of(cmd), null);
    }

    /** Runs {@code cmd} and fails with its output when it exits non-zero. */
    static String must(String... cmd) {
        Result r = run(cmd);
        if (!r.ok()) {
            throw new IllegalStateException(String.join(" ", cmd) + " exited " + r.code() + ": " + r.output());
        }
        return r.output();
    }

    /** Runs {@code cmd} in the network namespace {@code ns}. */
    static Result inNs(String ns, String stdin, String... cmd) {
        List<String> full = new java.util.ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(cmd));
        return run(full, stdin);
    }
}
