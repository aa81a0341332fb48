package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the seed corpus of {@link V2ReaderFuzzTest}: small writer streams (PV/HVM, v2/v3, with checkpoints,
 * libxc and libxl). Run from the module directory with the test classpath:
 * {@code java -cp target/classes:target/test-classes dev.migrationd.protocol.v2.V2FuzzSeeds}.
 */
public final class V2FuzzSeeds {
    private V2FuzzSeeds() {
    }

    public static void main(String[] args) throws IOException {
        Path base = Path.of(args.length > 0 ? args[0] : "src/test/resources/dev/migrationd/protocol/v2/V2ReaderFuzzTestInputs");
        int n = 0;
        for (GuestType g : GuestType.values()) {
            for (int version : new int[] {2, 3}) {
                for (int checkpoints : new int[] {0, 1}) {
                    for (boolean libxl : new boolean[] {false, true}) {
                        V2Streams.Shape s = new V2Streams.Shape(g, version, checkpoints, libxl, 8);
                        byte[] bytes = V2Streams.write(V2Streams.stream(s, 100 + n));
                        Path dir = base.resolve(libxl ? "libxlReader" : "libxcReader");
                        Files.createDirectories(dir);
                        Files.write(dir.resolve("seed-" + g.name().toLowerCase() + "-v" + version + "-cp" + checkpoints),
                                bytes);
                        n++;
                    }
                }
            }
        }
    }
}
