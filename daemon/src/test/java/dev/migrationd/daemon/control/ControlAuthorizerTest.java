package dev.migrationd.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.google.rpc.ErrorInfo;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.daemon.engine.MigrationEngine;
import dev.migrationd.hypervisor.Hypervisor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerBuilder;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The role table and the authorizer: who may call what, decided before the service sees the call. */
class ControlAuthorizerTest {

    /** A listener whose callers are all operators (plaintext loopback with control-loopback-role = operator). */
    static ControlServer.Listener operatorListener(ServerBuilder<?> builder) {
        return new ControlServer.Listener("in-process", builder, new ControlAuthorizer(ControlAuthorizer.Transport.LOOPBACK,
                () -> ControlAccess.onlyRoot(Optional.of(ControlRole.OPERATOR)), UnixAccounts.SYSTEM, 0));
    }

    private ControlServer server;
    private ManagedChannel channel;
    private final AtomicReference<ControlAccess> policy = new AtomicReference<>();

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.serverForTests().shutdownNow();
        }
    }

    /** An in-process control server whose callers get {@code policy}'s loopback role. */
    private MigrationServiceGrpc.MigrationServiceBlockingStub start(Optional<ControlRole> loopbackRole) throws Exception {
        policy.set(ControlAccess.onlyRoot(loopbackRole));
        Hypervisor hypervisor = mock(Hypervisor.class);
        when(hypervisor.backend()).thenReturn("sim");
        when(hypervisor.listDomains()).thenReturn(List.of());
        ControlService service = new ControlService("hostA", mock(MigrationEngine.class), hypervisor, Optional.empty(),
                Clock.systemUTC());
        String name = InProcessServerBuilder.generateName();
        server = new ControlServer(List.of(new ControlServer.Listener("in-process", InProcessServerBuilder.forName(name)
                .directExecutor(), new ControlAuthorizer(ControlAuthorizer.Transport.LOOPBACK, policy::get,
                UnixAccounts.SYSTEM, 0))), service).start();
        server.serving();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        return MigrationServiceGrpc.newBlockingStub(channel);
    }

    @Test
    void everyMethodTheServerOffersHasARule() throws Exception {
        start(Optional.of(ControlRole.OPERATOR));
        List<String> methods = new ArrayList<>();
        for (ServerServiceDefinition s : server.serverForTests().getServices()) {
            for (ServerMethodDefinition<?, ?> m : s.getMethods()) {
                methods.add(m.getMethodDescriptor().getFullMethodName());
            }
        }
        assertTrue(methods.size() > MigrationServiceGrpc.getServiceDescriptor().getMethods().size(), methods.toString());
        for (String m : methods) {
            assertFalse(ControlMethods.rule(m) instanceof ControlMethods.Rule.Unknown, m + " has no entry in the role table");
        }
        for (MethodDescriptor<?, ?> m : MigrationServiceGrpc.getServiceDescriptor().getMethods()) {
            assertInstanceOf(ControlMethods.Rule.Needs.class, ControlMethods.rule(m.getFullMethodName()),
                    m.getFullMethodName() + " must need a role");
        }
        assertInstanceOf(ControlMethods.Rule.Unknown.class, ControlMethods.rule("dev.migrationd.v1.MigrationService/NewRpc"));
        assertInstanceOf(ControlMethods.Rule.Unknown.class, ControlMethods.rule("other.Service/Call"));
    }

    @Test
    void readersLookOperatorsAct() {
        for (String read : List.of("GetMigration", "WatchMigration", "ListMigrations", "ListDomains", "InspectDomain")) {
            assertEquals(new ControlMethods.Rule.Needs(ControlRole.READ_ONLY),
                    ControlMethods.rule("dev.migrationd.v1.MigrationService/" + read), read);
        }
        for (String act : List.of("StartMigration", "CancelMigration", "ResolveMigration", "SaveDomain", "RestoreDomain",
                "StartSave", "StartRestore", "CreateDomain", "DestroyDomain")) {
            assertEquals(new ControlMethods.Rule.Needs(ControlRole.OPERATOR),
                    ControlMethods.rule("dev.migrationd.v1.MigrationService/" + act), act);
        }
        assertInstanceOf(ControlMethods.Rule.Open.class, ControlMethods.rule("grpc.health.v1.Health/Check"));
        assertEquals(new ControlMethods.Rule.Needs(ControlRole.READ_ONLY),
                ControlMethods.rule("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
    }

    @Test
    void aReaderIsRefusedAMigrationNamingTheOperatorRole() throws Exception {
        var stub = start(Optional.of(ControlRole.READ_ONLY));
        assertEquals("hostA", stub.listDomains(ListDomainsRequest.getDefaultInstance()).getHost());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.startMigration(
                StartMigrationRequest.newBuilder().setDomain("dom7").setDestination("hostB").build()));
        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
        assertEquals("StartMigration needs the operator role; plaintext loopback TCP has the read-only role "
                + "(control-loopback-role)", e.getStatus().getDescription());
        ErrorInfo info = StatusProto.fromThrowable(e).getDetails(0).unpack(ErrorInfo.class);
        assertEquals(ControlAuthorizer.REASON, info.getReason());
        assertEquals(Map.of("operation", "StartMigration", "role", "operator", "caller", "plaintext loopback TCP"),
                info.getMetadataMap());
    }

    @Test
    void noRoleMeansNothingButHealthChecks() throws Exception {
        var stub = start(Optional.empty());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.listDomains(ListDomainsRequest.getDefaultInstance()));
        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
        assertEquals("ListDomains needs the read-only role; plaintext loopback TCP has no role (control-loopback-role)",
                e.getStatus().getDescription());
        assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus());
    }

    @Test
    void aReloadedPolicyAppliesToTheNextCall() throws Exception {
        var stub = start(Optional.empty());
        assertThrows(StatusRuntimeException.class, () -> stub.listDomains(ListDomainsRequest.getDefaultInstance()));
        policy.set(ControlAccess.onlyRoot(Optional.of(ControlRole.READ_ONLY)));
        assertEquals("hostA", stub.listDomains(ListDomainsRequest.getDefaultInstance()).getHost());
    }

    /** Accounts of a made-up host: alice (1000, in group ops 2000), bob (1001), carol (1002, in adm 4). */
    static final UnixAccounts HOST = new UnixAccounts() {
        private final Map<Integer, User> users = Map.of(1000, new User(1000, "alice", 1000), 1001, new User(1001, "bob", 1001),
                1002, new User(1002, "carol", 1002));
        private final Map<String, Integer> groups = Map.of("ops", 2000, "adm", 4);

        @Override
        public Optional<User> user(int uid) {
            return Optional.ofNullable(users.get(uid));
        }

        @Override
        public OptionalInt uid(String name) {
            return users.values().stream().filter(u -> u.name().equals(name)).mapToInt(User::uid).findFirst();
        }

        @Override
        public OptionalInt gid(String name) {
            return groups.containsKey(name) ? OptionalInt.of(groups.get(name)) : OptionalInt.empty();
        }

        @Override
        public Set<Integer> groups(User user) {
            return switch (user.name()) {
                case "alice" -> Set.of(1000, 2000);
                case "carol" -> Set.of(1002, 4);
                default -> Set.of(user.gid());
            };
        }
    };

    private static Optional<ControlRole> unixRole(ControlAccess a, int uid, int gid) {
        return a.unixCaller(uid, gid, 999, HOST).role();
    }

    @Test
    void unixCallersGetTheRoleTheirUidOrGroupsHave() {
        ControlAccess a = new ControlAccess(ControlAccess.parseGrants("@ops, 1001"), ControlAccess.parseGrants("@adm,cert:carol"),
                Optional.of(ControlRole.OPERATOR));
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(a, 0, 0), "root");
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(a, 999, 999), "the daemon's own user");
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(a, 1000, 1000), "alice, a member of ops");
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(a, 1001, 1001), "bob by uid");
        assertEquals(Optional.of(ControlRole.READ_ONLY), unixRole(a, 1002, 1002), "carol, a member of adm");
        assertEquals(Optional.empty(), unixRole(a, 65534, 65534), "anyone else: no role");
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(a, 65534, 2000), "a process running with gid ops");
        assertEquals("uid 1002 (carol)", a.unixCaller(1002, 1002, 999, HOST).who());
        ControlAccess byName = new ControlAccess(ControlAccess.parseGrants("alice"), List.of(), Optional.empty());
        assertEquals(Optional.of(ControlRole.OPERATOR), unixRole(byName, 1000, 1000));
        assertEquals(Optional.empty(), unixRole(byName, 1001, 1001));
        assertEquals(List.of("nobody-here", "@nogroup-here"), new ControlAccess(ControlAccess.parseGrants("alice,nobody-here"),
                ControlAccess.parseGrants("@ops,@nogroup-here,cert:x,7"), Optional.empty()).unresolved(HOST));
    }

    @Test
    void certificateNamesAreNotUnixNames() {
        ControlAccess a = new ControlAccess(ControlAccess.parseGrants("cert:ops.example.com"), ControlAccess.parseGrants("alice"),
                Optional.empty());
        assertEquals(Optional.of(ControlRole.OPERATOR), a.certificateCaller(List.of("x", "ops.example.com")).role());
        assertEquals(Optional.empty(), a.certificateCaller(List.of("alice")).role(), "a Unix user entry is not a certificate name");
        assertEquals(Optional.empty(), unixRole(new ControlAccess(ControlAccess.parseGrants("cert:alice"), List.of(),
                Optional.empty()), 1000, 1000), "a certificate entry is not a Unix user");
    }

    @Test
    void badEntriesAreRefusedByName() {
        for (String bad : List.of("@", "cert:", "ali ce", "-x", "@a/b", "root,,@x")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ControlAccess.parseGrants(bad), bad);
            assertTrue(e.getMessage().contains("is not a user"), e.getMessage());
        }
        assertEquals(List.of(), ControlAccess.parseGrants(" "));
    }
}
