package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.fake.FakeDomain;
import dev.migrationd.daemon.engine.fake.FakeHypervisor;
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
            FakeHypervisor hv = new FakeHypervisor("seed");
            FakeDomain d = hv.createRunning(EnginePair.shape("g", t, IncomingStreamFuzzTest.PAGES, 2));
            Path tmp = Files.createTempDirectory("seed");
            EngineConfig cfg = EngineConfig.of("seed", hv, tmp, new PeerConnector() {
                public boolean knows(String p) {
                    return false;
                }

                public PeerConnection connect(String p) throws EngineException.UnknownPeerException {
                    throw new EngineException.UnknownPeerException(p);
                }
            });
            Path file = tmp.resolve("s");
            SaveRestore.save(cfg, new SaveRequest("g", file, MigrationOptions.StreamFormat.LEGACY, false, false, false));
            byte[] stream = Files.readAllBytes(file);
            byte[] seed = new byte[stream.length + 1];
            seed[0] = (byte) (t == GuestType.HVM ? 0x40 : 0x41);
            System.arraycopy(stream, 0, seed, 1, stream.length);
            Files.write(out.resolve("seed-" + t.name().toLowerCase()), seed);
            d.stopWorkload();
        }
    }
}
