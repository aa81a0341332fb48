package dev.migrationd.daemon.control;

import dev.migrationd.control.v1.MigrationServiceGrpc;
import io.grpc.MethodDescriptor;
import io.grpc.health.v1.HealthGrpc;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The one table of which role each control-API method needs. A method missing from it is refused to every
 * caller (and a test checks that every method of every service the control server offers is here), so a new
 * RPC cannot be forgotten and left open.
 *
 * <p>Health checks ({@code grpc.health.v1.Health}) need no role: they say only whether the daemon serves, and
 * probes must not need credentials. Server reflection (the .proto) needs {@link ControlRole#READ_ONLY}.
 */
public final class ControlMethods {

    /** Services whose every method needs the same role (or none), by service name. */
    private static final Map<String, Optional<ControlRole>> BY_SERVICE = Map.of(
            HealthGrpc.SERVICE_NAME, Optional.empty(),
            "grpc.reflection.v1.ServerReflection", Optional.of(ControlRole.READ_ONLY));

    /** Full method name → the role it needs. */
    private static final Map<String, ControlRole> BY_METHOD = table();

    private ControlMethods() {
    }

    private static Map<String, ControlRole> table() {
        Map<String, ControlRole> m = new LinkedHashMap<>();
        ControlRole read = ControlRole.READ_ONLY;
        ControlRole act = ControlRole.OPERATOR;
        put(m, MigrationServiceGrpc.getGetMigrationMethod(), read);
        put(m, MigrationServiceGrpc.getWatchMigrationMethod(), read);
        put(m, MigrationServiceGrpc.getListMigrationsMethod(), read);
        put(m, MigrationServiceGrpc.getListDomainsMethod(), read);
        // reads a domain's memory hash and workload counter; changes nothing
        put(m, MigrationServiceGrpc.getInspectDomainMethod(), read);
        put(m, MigrationServiceGrpc.getStartMigrationMethod(), act);
        put(m, MigrationServiceGrpc.getCancelMigrationMethod(), act);
        put(m, MigrationServiceGrpc.getResolveMigrationMethod(), act);
        put(m, MigrationServiceGrpc.getSaveDomainMethod(), act);
        put(m, MigrationServiceGrpc.getRestoreDomainMethod(), act);
        put(m, MigrationServiceGrpc.getStartSaveMethod(), act);
        put(m, MigrationServiceGrpc.getStartRestoreMethod(), act);
        put(m, MigrationServiceGrpc.getCreateDomainMethod(), act);
        put(m, MigrationServiceGrpc.getDestroyDomainMethod(), act);
        return Map.copyOf(m);
    }

    private static void put(Map<String, ControlRole> m, MethodDescriptor<?, ?> method, ControlRole role) {
        if (m.put(method.getFullMethodName(), role) != null) {
            throw new IllegalStateException(method.getFullMethodName() + " is in the role table twice");
        }
    }

    /** What the table says about a method: it needs a role, it needs none, or it is not in the table. */
    public sealed interface Rule {
        /** The method needs this role. */
        record Needs(ControlRole role) implements Rule {
        }

        /** Anyone who can connect may call it (health checks). */
        record Open() implements Rule {
        }

        /** Not in the table: refused to everyone. */
        record Unknown() implements Rule {
        }
    }

    /** The rule for {@code fullMethodName} ({@code package.Service/Method}). */
    public static Rule rule(String fullMethodName) {
        ControlRole r = BY_METHOD.get(fullMethodName);
        if (r != null) {
            return new Rule.Needs(r);
        }
        Optional<ControlRole> byService = BY_SERVICE.get(MethodDescriptor.extractFullServiceName(fullMethodName));
        if (byService == null) {
            return new Rule.Unknown();
        }
        return byService.<Rule>map(Rule.Needs::new).orElseGet(Rule.Open::new);
    }
}
