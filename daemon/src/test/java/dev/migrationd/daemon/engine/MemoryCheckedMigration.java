package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A migration between two sim engines whose guest memory is checked: the source's hash when its final state is
 * sent (paused for good) must equal the destination's just before it unpauses.
 */
final class MemoryCheckedMigration {

    private MemoryCheckedMigration() {
    }

    /**
     * Migrates {@code domain} from {@code a} (on {@code hvA}) to hostB ({@code b} on {@code hvB}), asserts that it
     * succeeded and that the memory arrived as it left, and returns the result.
     */
    static MigrationResult migrate(MigrationEngine a, SimHypervisor hvA, MigrationEngine b, SimHypervisor hvB,
                                   String domain, MigrationOptions options) throws Exception {
        Hash src = new Hash(hvA, false);
        Hash dst = new Hash(hvB, true);
        a.addObserver(src);
        b.addObserver(dst);
        MigrationResult r = a.start(MigrationRequest.of(domain, "hostB", options)).result().get(120, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        assertEquals(src.hash.get(), dst.hash.get(), "destination memory = source memory at the pause");
        return r;
    }

    /** The guest's memory hash when the source paused it for good, or when the destination is about to unpause. */
    private static final class Hash implements MigrationObserver {
        final AtomicLong hash = new AtomicLong();
        final SimHypervisor hv;
        final boolean destinationSide;

        Hash(SimHypervisor hv, boolean destinationSide) {
            this.hv = hv;
            this.destinationSide = destinationSide;
        }

        @Override
        public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
            try {
                if (!destinationSide && to instanceof MigrationPhase.AwaitingReceived
                        || destinationSide && to instanceof MigrationPhase.Committing) {
                    hash.set(hv.simDomain(m.domain()).memoryHash());
                }
            } catch (HypervisorException e) {
                throw new AssertionError(e);
            }
        }
    }
}
