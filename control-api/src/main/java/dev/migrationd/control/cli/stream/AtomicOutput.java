package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes an output file so that nothing is lost and nothing half-written is left behind: the content
 * goes to a temporary file in the target's directory, is flushed to disk, and is then moved into place
 * atomically. Without {@code force} an existing target is never replaced (the final step is a hard link,
 * which fails if the name exists, so a file created meanwhile is not clobbered either). On any error the
 * temporary file is deleted and the target is untouched.
 */
final class AtomicOutput {

    /** What produces the content. */
    @FunctionalInterface
    interface Writer {
        void write(OutputStream out) throws Exception;
    }

    private AtomicOutput() {
    }

    /** Fails with a usage error when {@code target} exists and {@code force} is off (checked before any work). */
    static void checkTarget(Path target, boolean force) {
        if (!force && Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new CliException(ExitCode.USAGE, "output " + target + " exists; use --force to replace it");
        }
        if (Files.isDirectory(target)) {
            throw new CliException(ExitCode.USAGE, "output " + target + " is a directory");
        }
    }

    static void write(Path target, boolean force, Writer writer) throws Exception {
        checkTarget(target, force);
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new CliException(ExitCode.IO, "output directory " + dir + " does not exist");
        }
        Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".partial");
        // an interrupted run (Ctrl-C, SIGTERM) must not leave the temporary file behind either
        Thread cleanup = new Thread(() -> {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort while the JVM exits
            }
        }, "migrationctl-partial-output-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                    OutputStream raw = java.nio.channels.Channels.newOutputStream(ch);
                    OutputStream out = new BufferedOutputStream(raw, 1 << 16)) {
                writer.write(out);
                out.flush();
                ch.force(true);
            }
            if (force) {
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
                }
            } else {
                try {
                    Files.createLink(abs, tmp);
                } catch (FileAlreadyExistsException e) {
                    throw new CliException(ExitCode.USAGE, "output " + target + " was created meanwhile; use --force to replace it");
                } catch (UnsupportedOperationException | IOException e) {
                    if (Files.exists(abs)) {
                        throw new CliException(ExitCode.USAGE, "output " + target + " exists; use --force to replace it");
                    }
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                }
            }
        } finally {
            Files.deleteIfExists(tmp); // after a successful link/move this removes only the temporary name
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; nothing left for it to delete
            }
        }
    }
}
