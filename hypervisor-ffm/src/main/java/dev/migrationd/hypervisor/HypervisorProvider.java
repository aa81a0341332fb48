package dev.migrationd.hypervisor;

import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * A backend, found through {@link ServiceLoader} ({@code META-INF/services/dev.migrationd.hypervisor.HypervisorProvider})
 * so that the daemon and the engine never import a concrete adapter.
 */
public interface HypervisorProvider {

    /** The backend's name on the command line: {@code sim}, {@code xen}, {@code kvm}. */
    String name();

    /**
     * Opens the backend. Fails with one clear line when this host cannot run it (for example
     * {@code xen} off a Xen dom0); never falls back to another backend.
     *
     * @param stateDir the daemon's state directory (sim keeps its domains there)
     */
    Hypervisor open(Path stateDir) throws HypervisorException;

    /**
     * Opens the backend with backend-specific options (for example {@code prefault} for sim). A backend
     * refuses options it does not know, naming them; the default knows none.
     */
    default Hypervisor open(Path stateDir, Map<String, String> options) throws HypervisorException {
        if (!options.isEmpty()) {
            throw new HypervisorException("open", null, "backend '" + name() + "' has no option " + String.join(", ", options.keySet()));
        }
        return open(stateDir);
    }

    /** Opens the backend called {@code name}, or fails naming the backends there are. */
    static Hypervisor open(String name, Path stateDir) throws HypervisorException {
        return open(name, stateDir, Map.of());
    }

    /** Opens the backend called {@code name} with backend options, or fails naming the backends there are. */
    static Hypervisor open(String name, Path stateDir, Map<String, String> options) throws HypervisorException {
        StringBuilder known = new StringBuilder();
        for (HypervisorProvider p : ServiceLoader.load(HypervisorProvider.class)) {
            if (p.name().equals(name)) {
                return p.open(stateDir, options);
            }
            known.append(known.isEmpty() ? "" : ", ").append(p.name());
        }
        throw new HypervisorException("open", null, "unknown backend '" + name + "' (known: " + known + ")");
    }
}
