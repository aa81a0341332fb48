package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.simhost.SimHost;
import dev.migrationd.protocol.GuestType;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes the fuzz seeds (streams of 16-page guests as the engine saves them). Run by hand: see IncomingStreamFuzzTest. */
final class FuzzSeedWriter {
    private FuzzSeedWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        for (GuestType t : GuestType.values()) {
            Path tmp = Files.createTempDirectory("seed");
            try (SimHost hv = SimHost.open(tmp)) {
                hv.createRunning("g", t, IncomingStreamFuzzTest.PAGES, 2);
                Path file = tmp.resolve("s");
                SaveRestore.save(hv, Ticker.SYSTEM, new SaveRequest("g", file, MigrationOptions.StreamFormat.LEGACY, false, false, false),
                        new dev.migrationd.daemon.engine.file.FilePolicy(java.nio.file.Path.of("/nonexistent-state-dir"), java.util.List.of()));
                byte[] stream = Files.readAllBytes(file);
                byte[] seed = new byte[stream.length + 1];
                seed[0] = (byte) (t == GuestType.HVM ? 0x40 : 0x41);
                System.arraycopy(stream, 0, seed, 1, stream.length);
                Files.write(out.resolve("seed-" + t.name().toLowerCase()), seed);
            }
        }
    }
}
