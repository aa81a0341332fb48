package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Path;

/** Child process for {@link SimRestartTest}: runs an ab guest until it is killed with SIGKILL. */
public final class SimCrashChild {

    private SimCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        SimHypervisor hv = SimHypervisor.open(Path.of(args[0]));
        SimDomain d = hv.create(SimDomainSpec.of("crash", 8 << 20, 2, GuestType.HVM, Width.W64,
                WorkloadSpec.of(40 << 20, 1.0, 0, WorkloadSpec.Pattern.AB)));
        while (d.workloadCounter() < 5000) {
            Thread.sleep(5);
        }
        System.out.println("READY " + d.workloadCounter());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
