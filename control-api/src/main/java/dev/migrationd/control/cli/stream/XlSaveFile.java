package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.protocol.legacy.LibxlConfigJson;
import dev.migrationd.protocol.legacy.XlSaveHeader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import java.util.UUID;

/**
 * What {@code stream convert --to xl} puts before the libxl v2 stream so that {@code xl restore} takes the
 * file: xl's save-file header (docs/wire-format-legacy.md §12.1: magic, byte-order mark, mandatory flags
 * STREAMv2 and, for a JSON config, JSON; optional data = u32 config length, config) and the domain's
 * configuration. The configuration is the operator's own file when given (JSON when it starts with
 * <code>{</code>, as {@code xl list -l} prints it; otherwise xl's config-file syntax, which xl parses as it
 * parses the file given to {@code xl create}); else a minimal libxl JSON config built from the save file's
 * metadata (name, UUID, type, vCPUs, memory), written with a trailing NUL as {@code xl save} writes its own.
 */
final class XlSaveFile {

    /** The guest types of an xl configuration. */
    enum XlType { pv, pvh, hvm }

    /** Largest configuration file accepted (xl's own limit on optional data is larger; a config is a few KiB). */
    static final int MAX_CONFIG_BYTES = 1 << 20;
    /** The daemon's metadata beside a save file (written by the daemon's save). */
    static final String META_SUFFIX = ".meta";

    private XlSaveFile() {
    }

    /** The facts a generated configuration needs. */
    record Domain(String name, UUID uuid, XlType type, int vcpus, long memoryBytes) {
    }

    /** The xl header introducing a libxl v2 stream, with {@code config} and its JSON flag. */
    static byte[] header(byte[] config, boolean json) {
        return XlSaveHeader.forStreamV2(config, json);
    }

    /** An operator's configuration file, and whether it is JSON. */
    static byte[] readConfig(Path file) throws IOException {
        long size = Files.size(file);
        if (size == 0 || size > MAX_CONFIG_BYTES) {
            throw new CliException(ExitCode.USAGE, "--config " + file + ": " + size + " bytes; a configuration has 1.."
                    + MAX_CONFIG_BYTES);
        }
        return Files.readAllBytes(file);
    }

    static boolean isJson(byte[] config) {
        for (byte b : config) {
            if (!Character.isWhitespace(b)) {
                return b == '{';
            }
        }
        return false;
    }

    /** A JSON config ends with the NUL that xl writes after its own (it reads the config as a C string). */
    static byte[] withNul(byte[] config) {
        return LibxlConfigJson.withNul(config);
    }

    /**
     * A minimal libxl domain configuration (libxl_domain_config as JSON): what {@code xl restore} needs to
     * build the domain the stream fills. Devices (disks, networks, consoles beyond the first) are not known
     * to migrationd's save file: give the real configuration with {@code --config} when the guest has them.
     */
    static byte[] generatedConfig(Domain d) {
        return LibxlConfigJson.minimalBytes(d.name(), d.uuid(), d.type().name(), d.vcpus(), d.memoryBytes());
    }

    /** The metadata's property that holds the domain's libxl configuration (JSON), when the daemon saved one. */
    static final String META_TOOLSTACK_CONFIG = "toolstackConfig";

    /** The domain's libxl configuration as the daemon saved it beside {@code saveFile}, if it did. */
    static java.util.Optional<byte[]> savedConfig(Path saveFile) throws IOException {
        Path meta = saveFile.resolveSibling(saveFile.getFileName() + META_SUFFIX);
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(meta)) {
            p.load(in);
        }
        String json = p.getProperty(META_TOOLSTACK_CONFIG);
        if (json == null || json.isBlank()) {
            return java.util.Optional.empty();
        }
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_CONFIG_BYTES) {
            throw new CliException(ExitCode.USAGE, meta + ": its toolstackConfig of " + b.length + " bytes exceeds "
                    + MAX_CONFIG_BYTES);
        }
        return java.util.Optional.of(b);
    }

    /**
     * The domain described by the metadata the daemon wrote beside a save file ({@code FILE.meta}), with the
     * operator's overrides. The metadata's p2m size is the guest's memory only for PV guests (an HVM or PVH
     * guest's highest frames are special pages far above its RAM): those need {@code memoryBytes} in the
     * metadata or {@code --memory}.
     */
    static Domain fromMeta(Path saveFile, String name, XlType type, Long memory) throws IOException {
        Path meta = saveFile.resolveSibling(saveFile.getFileName() + META_SUFFIX);
        if (!Files.exists(meta)) {
            throw new CliException(ExitCode.USAGE, "no " + meta + ": converting to xl needs the metadata the daemon saved "
                    + "beside the file (name, UUID, vCPUs), or a configuration given with --config");
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(meta)) {
            p.load(in);
        }
        try {
            String savedType = p.getProperty("guestType", "");
            XlType t = type != null ? type : switch (savedType) {
                case "PV" -> XlType.pv;
                case "HVM" -> XlType.hvm;
                case "PVH" -> XlType.pvh;
                default -> throw new IllegalArgumentException("guestType '" + savedType + "' is not PV, HVM or PVH");
            };
            long bytes;
            if (memory != null) {
                bytes = memory;
            } else if (p.getProperty("memoryBytes") != null) {
                bytes = Long.parseLong(p.getProperty("memoryBytes"));
            } else if (t == XlType.pv) {
                bytes = Long.parseLong(p.getProperty("p2mSize")) * 4096;
            } else {
                throw new CliException(ExitCode.USAGE, meta + " does not say the guest's memory, and an " + t
                        + " guest's frame count is not its memory: give --memory SIZE");
            }
            int vcpus = Integer.parseInt(p.getProperty("vcpus"));
            if (vcpus < 1 || vcpus > 4096 || bytes < 4096 || bytes % 1024 != 0) {
                throw new IllegalArgumentException("vcpus " + vcpus + " or memory " + bytes + " out of range");
            }
            return new Domain(name != null ? name : p.getProperty("name"), UUID.fromString(p.getProperty("uuid")), t, vcpus,
                    bytes);
        } catch (NumberFormatException | NullPointerException e) {
            throw new CliException(ExitCode.USAGE, meta + " is not valid save metadata: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCode.USAGE, meta + ": " + e.getMessage());
        }
    }
}
