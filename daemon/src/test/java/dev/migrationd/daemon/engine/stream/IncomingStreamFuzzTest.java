package dev.migrationd.daemon.engine.stream;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;

/**
 * Jazzer fuzz test of the destination's apply path: arbitrary bytes arriving as a migration stream
 * (any split) for an offered 16-page guest either apply or fail with a StreamException or a
 * HypervisorException — never another exception, a write outside the guest, a hang or an allocation
 * sized by the input. Byte 0 picks PV/HVM and the split point; the rest is the stream. The domain is a
 * sim domain built for restore, as on a daemon, on a sim backend shared by every input (on tmpfs where
 * there is one, so that its metadata writes cost no disk flush). Seeds are
 * streams the engine writes ({@code IncomingStreamFuzzTestInputs/}); a plain {@code verify} replays them
 * (surefire execution {@code fuzz}). Fuzz with
 * {@code JAZZER_FUZZ=1 bin/build -pl daemon -am test -Dtest=IncomingStreamFuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("fuzz")
class IncomingStreamFuzzTest {

    static final long PAGES = 16;

    /** One sim backend for every input; closed and removed when the JVM exits. */
    private static final SimHypervisor SIM = openSim();
    private static final AtomicLong INPUTS = new AtomicLong();

    private static SimHypervisor openSim() {
        try {
            Path shm = Path.of("/dev/shm");
            Path dir = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "fuzz-sim")
                    : Files.createTempDirectory("fuzz-sim");
            SimHypervisor sim = SimHypervisor.open(dir);
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
                try (Stream<Path> all = Files.walk(dir)) {
                    sim.close();
                    for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException | HypervisorException e) {
                    System.err.println("fuzz sim directory " + dir + " not removed: " + e);
                }
            }));
            return sim;
        } catch (IOException | HypervisorException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @FuzzTest(maxDuration = "20s")
    void applyOnlyFailsWithStreamOrHypervisorErrors(byte[] input) throws Exception {
        if (input.length < 1) {
            return;
        }
        GuestType type = (input[0] & 1) == 0 ? GuestType.HVM : GuestType.PV;
        int split = 1 + ((input[0] & 0xFF) >>> 1) * Math.max(1, (input.length - 1) / 128);
        Domain d = SIM.createForRestore(new DomainShape("g" + INPUTS.incrementAndGet(), UUID.nameUUIDFromBytes(new byte[] {1}),
                PAGES, 2, type, Width.W64));
        try {
            DestinationStream stream = DestinationStream.of(MigrationOptions.StreamFormat.LEGACY, d, d.info().shape(), () -> { });
            ByteBuffer all = ByteBuffer.wrap(input, 1, input.length - 1);
            int cut = Math.min(all.remaining(), split);
            ByteBuffer first = all.slice(all.position(), cut);
            ByteBuffer second = all.slice(all.position() + cut, all.remaining() - cut);
            stream.feed(first);
            if (!stream.complete()) {
                stream.feed(second);
            }
            stream.finish();
            stream.completeRestore();
        } catch (StreamException | HypervisorException expected) {
            // a clear, typed failure: what the destination turns into Failed{reason}
        } finally {
            d.destroy();
        }
    }
}
