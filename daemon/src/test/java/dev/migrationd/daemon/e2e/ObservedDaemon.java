package dev.migrationd.daemon.e2e;

import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The migrationd daemon (the same {@link Daemon} {@code bin/migrationd} runs, sim backend) as a process,
 * with one addition the control API does not offer: it prints the guest's memory hash at the two points
 * the hand-over compares, so that a test in another process can check that the destination's memory
 * equals the source's memory at the pause:
 *
 * <pre>
 * e2e_memory_hash side=source migration=ID domain=NAME hash=HEX        (entering AWAITING_RECEIVED: paused, everything sent)
 * e2e_memory_hash side=destination migration=ID domain=NAME hash=HEX   (entering COMMITTING: built, paused, before unpause)
 * </pre>
 *
 * Flags: {@code --name --state-dir --control-listen --peer-listen --metrics-listen --peer NAME=HOST:PORT}
 * (as migrationd's). Stops cleanly on SIGTERM like migrationd; SIGKILL leaves what a crash leaves.
 */
public final class ObservedDaemon {

    private ObservedDaemon() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = new LinkedHashMap<>();
        List<String> peers = new ArrayList<>();
        List<String> allows = new ArrayList<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            String key = args[i].replaceFirst("^--", "");
            if (key.equals("peer")) {
                peers.add(args[i + 1]);
            } else if (key.equals("peer-allow")) {
                allows.add(args[i + 1]);
            } else {
                flags.put(key, args[i + 1]);
            }
        }
        DaemonConfig config = DaemonConfig.resolve(null, flags, peers, allows);
        Daemon daemon = Daemon.start(config);
        SimHypervisor hv = (SimHypervisor) daemon.engine().config().hypervisor();
        daemon.engine().addObserver(new MigrationObserver() {
            @Override
            public void phaseChanged(MigrationInfo m, MigrationPhase from, MigrationPhase to) {
                boolean source = m.direction() == Direction.OUTGOING && to instanceof MigrationPhase.AwaitingReceived;
                boolean destination = m.direction() == Direction.INCOMING && to instanceof MigrationPhase.Committing;
                if (source || destination) {
                    try {
                        long hash = hv.simDomain(m.domain()).memoryHash();
                        System.out.printf(Locale.ROOT, "e2e_memory_hash side=%s migration=%s domain=%s hash=%016x%n",
                                source ? "source" : "destination", m.id(), m.domain(), hash);
                        System.out.flush();
                    } catch (Exception e) {
                        System.out.println("e2e_memory_hash_failed migration=" + m.id() + " error=" + e);
                    }
                }
            }
        });
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            daemon.close();
            stopped.countDown();
            Runtime.getRuntime().halt(0);
        }));
        stopped.await();
    }
}
