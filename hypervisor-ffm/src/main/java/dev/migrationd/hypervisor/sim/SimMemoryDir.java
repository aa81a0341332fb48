package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where one sim hypervisor keeps its guests' memory: in RAM, as a hypervisor does, in a directory of a
 * shared-memory file system ({@code /dev/shm/migrationd-sim-<key>/<domid>.memory}). A file there outlives
 * the daemon (a restarted or killed daemon maps it again, with the guest's contents) but not the host: after
 * a reboot the guests are gone, like real ones.
 *
 * <p><b>Whose memory it is.</b> {@code <key>} is a random number the state directory keeps in its
 * {@code sim/host.properties} ({@link #KEY_PROPERTY}); the directory holds an {@link #OWNER_FILE} naming that
 * state directory. So two daemons on one host never share a file, a restarted daemon finds its own, and a copy
 * of a state directory (same key, other path) is refused instead of adopting another daemon's guests. A
 * directory whose owner is gone (its state directory was deleted, or now holds another key) is stale: every
 * {@link SimHypervisor#open} removes the stale directories made in its own mount namespace ({@link #removeStale}),
 * so test runs and benchmarks that delete their state directories do not leave guest memory behind for long.
 *
 * <p>Thread-safety: the paths are immutable; the file operations are called by the owning SimHypervisor
 * under its lock or by a domain under its state lock (one domid, one file).
 */
final class SimMemoryDir {

    private static final Logger LOG = LoggerFactory.getLogger(SimMemoryDir.class);

    /** The shared-memory file system guest memory lives on by default. */
    static final Path DEFAULT_SHM = Path.of("/dev/shm");
    /** Prefix of every sim memory directory on the shared-memory file system. */
    static final String DIR_PREFIX = "migrationd-sim-";
    /** In {@code host.properties}: the key that names this state directory's memory directory. */
    static final String KEY_PROPERTY = "memoryKey";
    /**
     * In the memory directory: the absolute path of the owning {@code <stateDir>/sim}, then the mount
     * namespace it was made in ({@code /proc/self/ns/mnt}), one per line.
     */
    static final String OWNER_FILE = "owner";
    static final String MEMORY_SUFFIX = ".memory";
    /** Bytes of randomness in a key (hex in names: 32 characters). */
    private static final int KEY_BYTES = 16;
    /** The longest owner file read back (a path; anything longer is not one of ours). */
    private static final int MAX_OWNER_BYTES = 4096;
    private static final Pattern KEY = Pattern.compile("[0-9a-f]{" + 2 * KEY_BYTES + "}");

    private final Path shm;
    private final Path dir;

    private SimMemoryDir(Path shm, Path dir) {
        this.shm = shm;
        this.dir = dir;
    }

    /** A fresh random key for a state directory that has none yet. */
    static String newKey() {
        byte[] b = new byte[KEY_BYTES];
        new java.security.SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Whether {@code key} has the form {@link #newKey} gives (a state directory's file is checked, not trusted). */
    static boolean validKey(String key) {
        return key != null && KEY.matcher(key).matches();
    }

    /**
     * The memory directory of the sim root {@code simRoot} (already locked by the caller) with {@code key},
     * created if missing, its owner checked when it exists.
     */
    static SimMemoryDir open(Path shm, Path simRoot, String key) throws HypervisorException {
        if (!Files.isDirectory(shm)) {
            throw new HypervisorException("open", null, "guest memory needs a shared-memory file system at " + shm
                    + ", which is not a directory");
        }
        Path dir = shm.resolve(DIR_PREFIX + key);
        String owner = simRoot.toAbsolutePath().normalize().toString();
        String namespace = mountNamespace();
        try {
            if (!Files.isDirectory(dir)) {
                create(dir, owner + "\n" + namespace);
                LOG.info("event=sim_memory_dir_created dir={} state_dir={}", dir, owner);
            } else {
                String[] recordedOwner = readOwner(dir);
                String recorded = recordedOwner == null ? null : recordedOwner[0];
                if (!owner.equals(recorded)) {
                    throw new HypervisorException("open", null, "guest memory " + dir + " belongs to the state directory "
                            + recorded + ", not " + owner + " (a copied state directory? give it a new "
                            + KEY_PROPERTY + " in host.properties, and its guests are gone)");
                }
            }
        } catch (IOException e) {
            throw new HypervisorException("open", null, "cannot use guest memory directory " + dir + ": " + e.getMessage(), e);
        }
        return new SimMemoryDir(shm, dir);
    }

    /** Makes the directory with its owner file under a temporary name and renames it into place, so it never exists ownerless. */
    private static void create(Path dir, String owner) throws IOException {
        Path tmp = dir.resolveSibling("." + dir.getFileName() + ".new");
        AtomicFiles.deleteTree(tmp);
        Files.createDirectory(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.writeString(tmp.resolve(OWNER_FILE), owner + "\n", StandardCharsets.UTF_8);
        try {
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
    }

    /**
     * The owner path and mount namespace recorded in a memory directory ("" for a namespace not recorded), or
     * null when it has none or it is not readable.
     */
    private static String[] readOwner(Path dir) {
        try {
            Path f = dir.resolve(OWNER_FILE);
            if (Files.size(f) > MAX_OWNER_BYTES) {
                return null;
            }
            String[] lines = Files.readString(f, StandardCharsets.UTF_8).strip().split("\n");
            return new String[] {lines[0].strip(), lines.length > 1 ? lines[1].strip() : ""};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * This process's mount namespace ({@code mnt:[inode]}), or "" where it cannot be read. An owner path means
     * the same directory only within one mount namespace: a daemon with a private /tmp (systemd's PrivateTmp)
     * must not judge the memory of a daemon whose state directory is in the host's /tmp.
     */
    static String mountNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return "";
        }
    }

    /**
     * Removes every memory directory under {@code shm} whose owner no longer keeps it: the owner's
     * {@code host.properties} is gone or names another key. Directories of other users, or unreadable
     * ones, are left alone. Returns how many were removed.
     */
    static int removeStale(Path shm) {
        int removed = 0;
        String namespace = mountNamespace();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(shm, DIR_PREFIX + "*")) {
            for (Path d : s) {
                String key = d.getFileName().toString().substring(DIR_PREFIX.length());
                if (!validKey(key) || !Files.isDirectory(d) || !Files.isReadable(d)) {
                    continue;
                }
                String[] recorded = readOwner(d);
                if (recorded == null || namespace.isEmpty() || !namespace.equals(recorded[1])) {
                    continue; // not ours to judge: made in another mount namespace, or unreadable
                }
                String owner = recorded[0];
                if (ownerKeeps(Path.of(owner), key)) {
                    continue;
                }
                try {
                    AtomicFiles.deleteTree(d);
                    removed++;
                    LOG.info("event=sim_memory_stale_removed dir={} state_dir={}", d, owner);
                } catch (IOException e) {
                    LOG.warn("event=sim_memory_stale_remove_failed dir={} reason=\"{}\"", d, e.getMessage());
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("event=sim_memory_scan_failed dir={} reason=\"{}\"", shm, e.getMessage());
        }
        return removed;
    }

    /** Whether the sim root {@code owner} still names {@code key} in its host.properties (unreadable: yes, keep). */
    private static boolean ownerKeeps(Path owner, String key) {
        Path host = owner.resolve(SimHypervisor.HOST_FILE);
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(host, StandardCharsets.ISO_8859_1)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException | RuntimeException e) {
            return true; // not ours to judge (permissions, a half-written file): keep it
        }
        return key.equals(p.getProperty(KEY_PROPERTY, "").trim());
    }

    Path dir() {
        return dir;
    }

    /** The memory file of domain {@code domid}. */
    Path memoryFile(int domid) {
        return dir.resolve(domid + MEMORY_SUFFIX);
    }

    /** Deletes the memory file of {@code domid} (a mapping of it keeps the pages until it is unmapped). */
    void delete(int domid) {
        try {
            Files.deleteIfExists(memoryFile(domid));
        } catch (IOException e) {
            LOG.warn("event=sim_memory_delete_failed file={} reason=\"{}\"", memoryFile(domid), e.getMessage());
        }
    }

    /** Deletes the memory files of domains not in {@code live} (leftovers of a build or destroy cut short). */
    void removeOrphans(Set<Integer> live) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*" + MEMORY_SUFFIX)) {
            for (Path f : s) {
                String n = f.getFileName().toString();
                String id = n.substring(0, n.length() - MEMORY_SUFFIX.length());
                boolean ours;
                try {
                    ours = live.contains(Integer.parseInt(id));
                } catch (NumberFormatException e) {
                    ours = false;
                }
                if (!ours) {
                    Files.deleteIfExists(f);
                    LOG.info("event=sim_memory_orphan_removed file={}", f);
                }
            }
        }
    }

    /** Bytes the shared-memory file system can still give (statvfs f_bavail). */
    long usableBytes() throws NativeCallException {
        return Libc.statvfs(shm.toString()).usableBytes();
    }

    Path shm() {
        return shm;
    }
}
