package dev.migrationd.protocol.legacy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.UUID;

/**
 * The smallest libxl domain configuration ({@code libxl_domain_config} as JSON, as {@code xl list -l} prints it)
 * from which {@code xl restore} builds the domain a stream fills: name, UUID, type, vCPUs and memory. Devices
 * (disks, networks, consoles beyond the first) are not in it: a guest that has them needs its real configuration.
 */
public final class LibxlConfigJson {
    private LibxlConfigJson() {
    }

    /**
     * The configuration of a guest of {@code type} ({@code "pv"}, {@code "pvh"} or {@code "hvm"}) with
     * {@code vcpus} vCPUs and {@code memoryBytes} of memory (whole KiB).
     */
    public static String minimal(String name, UUID uuid, String type, int vcpus, long memoryBytes) {
        StringBuilder avail = new StringBuilder();
        for (int v = 0; v < vcpus; v++) {
            avail.append(v == 0 ? "" : ",").append(v);
        }
        long kib = memoryBytes / 1024;
        return String.format(Locale.ROOT, """
                {
                    "c_info": {
                        "type": "%s",
                        "name": "%s",
                        "uuid": "%s"
                    },
                    "b_info": {
                        "max_vcpus": %d,
                        "avail_vcpus": [%s],
                        "max_memkb": %d,
                        "target_memkb": %d,
                        "type.%s": {
                        }
                    }
                }
                """, type, jsonString(name), uuid, vcpus, avail, kib, kib, type);
    }

    /** A JSON config ends with the NUL that xl writes after its own (xl reads the config as a C string). */
    public static byte[] withNul(byte[] config) {
        if (config.length > 0 && config[config.length - 1] == 0) {
            return config;
        }
        return Arrays.copyOf(config, config.length + 1);
    }

    /** {@link #minimal} as xl writes a configuration into its header: UTF-8 with the NUL. */
    public static byte[] minimalBytes(String name, UUID uuid, String type, int vcpus, long memoryBytes) {
        return withNul(minimal(name, uuid, type, vcpus, memoryBytes).getBytes(StandardCharsets.UTF_8));
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\');
            }
            if (c < 0x20) {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
