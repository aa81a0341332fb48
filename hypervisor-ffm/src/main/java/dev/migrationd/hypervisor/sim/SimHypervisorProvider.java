package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import java.nio.file.Path;

/** Registers the {@code sim} backend with {@link java.util.ServiceLoader}. */
public final class SimHypervisorProvider implements HypervisorProvider {

    @Override
    public String name() {
        return SimHypervisor.BACKEND;
    }

    @Override
    public Hypervisor open(Path stateDir) throws HypervisorException {
        return SimHypervisor.open(stateDir);
    }
}
