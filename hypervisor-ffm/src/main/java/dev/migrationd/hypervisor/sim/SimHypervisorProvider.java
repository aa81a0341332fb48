package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import java.nio.file.Path;
import java.util.Map;

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

    /** Options: {@code prefault} = {@code true|false} (see {@link SimHypervisor#setPrefault}). */
    @Override
    public Hypervisor open(Path stateDir, Map<String, String> options) throws HypervisorException {
        boolean prefault = false;
        for (Map.Entry<String, String> o : options.entrySet()) {
            if (!o.getKey().equals(OPTION_PREFAULT)) {
                throw new HypervisorException("open", null, "backend 'sim' has no option '" + o.getKey() + "' (known: " + OPTION_PREFAULT + ")");
            }
            prefault = switch (o.getValue()) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new HypervisorException("open", null, "sim option " + OPTION_PREFAULT + " is '" + o.getValue() + "': use true or false");
            };
        }
        SimHypervisor hv = SimHypervisor.open(stateDir);
        hv.setPrefault(prefault);
        return hv;
    }

    /** The option that makes restores prefault their memory. */
    public static final String OPTION_PREFAULT = "prefault";
}
