package dev.migrationd.daemon.engine.file;

import dev.migrationd.daemon.engine.run.EngineException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where save and restore may touch files on the operator's behalf: never inside the daemon's state
 * directory (its journal, its domains' memory), and, when {@code save-dirs} is set, only inside those
 * directories. Paths are compared after resolving symbolic links of the directories (a link from a save
 * directory into the state directory does not get around it). Immutable.
 *
 * @param stateDir the daemon's state directory
 * @param saveDirs the allowed directories; empty: any directory outside the state directory
 */
public record FilePolicy(Path stateDir, List<Path> saveDirs) {

    public FilePolicy {
        Objects.requireNonNull(stateDir, "stateDir");
        saveDirs = List.copyOf(saveDirs);
    }

    /**
     * Checks a file to be written: an absolute path whose directory exists, is allowed, and which is not a
     * symbolic link itself. Returns the path with its directory resolved.
     */
    public Path forWriting(Path file) throws EngineException {
        Path abs = absolute(file);
        if (Files.isSymbolicLink(abs)) {
            throw refused(abs + " is a symbolic link; save never writes through or replaces one");
        }
        Path dir = abs.getParent();
        Path realDir;
        try {
            realDir = dir.toRealPath();
        } catch (IOException e) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "the directory " + dir + " of " + abs
                    + " does not exist or cannot be read: " + e.getMessage());
        }
        check(abs, realDir);
        return realDir.resolve(abs.getFileName());
    }

    /** Checks a file to be read: allowed where it really is (symbolic links resolved). */
    public Path forReading(Path file) throws EngineException {
        Path abs = absolute(file);
        if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            throw new EngineException(EngineException.Kind.NOT_FOUND, "no save file " + abs);
        }
        Path real;
        try {
            real = abs.toRealPath();
        } catch (IOException e) {
            throw new EngineException(EngineException.Kind.NOT_FOUND, "cannot resolve " + abs + ": " + e.getMessage());
        }
        check(abs, real.getParent());
        return real;
    }

    private static Path absolute(Path file) throws EngineException {
        if (!file.isAbsolute()) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "path " + file + " must be absolute");
        }
        Path abs = file.normalize();
        if (abs.getFileName() == null) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "path " + file + " names no file");
        }
        return abs;
    }

    private void check(Path asked, Path realDir) throws EngineException {
        Path state = real(stateDir);
        if (realDir.startsWith(state)) {
            throw refused(asked + " is inside the daemon's state directory " + stateDir + "; save and restore files elsewhere");
        }
        if (saveDirs.isEmpty()) {
            return;
        }
        List<String> allowed = new ArrayList<>();
        for (Path d : saveDirs) {
            if (realDir.startsWith(real(d))) {
                return;
            }
            allowed.add(d.toString());
        }
        throw refused(asked + " is outside the directories save and restore may use (save-dirs: " + String.join(", ", allowed) + ")");
    }

    private static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    private static EngineException refused(String why) {
        return new EngineException(EngineException.Kind.PERMISSION_DENIED, why);
    }
}
