package dev.migrationd.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DestroyDomainRequest;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.daemon.engine.MigrationEngine;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The control server as a client on the network meets it: health, reflection, and errors that carry a
 * {@code google.rpc.ErrorInfo}; and the error codes the .proto documents are exactly those it returns.
 */
class ControlServerTest {

    static final Path PROTO = Path.of(System.getProperty("user.dir")).getParent()
            .resolve("control-api/src/main/proto/dev/migrationd/v1/migration_service.proto");

    MigrationEngine engine;
    Hypervisor hypervisor;
    ControlServer server;
    ManagedChannel channel;
    MigrationServiceGrpc.MigrationServiceBlockingStub stub;
    ManagedChannel readOnlyChannel;
    MigrationServiceGrpc.MigrationServiceBlockingStub readOnlyStub;

    @BeforeEach
    void start() throws Exception {
        engine = mock(MigrationEngine.class);
        hypervisor = mock(Hypervisor.class);
        when(hypervisor.backend()).thenReturn("xen");
        ControlService service = new ControlService("hostA", engine, hypervisor, Optional.empty(), Clock.systemUTC());
        // a second listener whose callers may only look, for PERMISSION_DENIED
        ControlServer.Listener readOnly = new ControlServer.Listener("read-only", NettyServerBuilder.forAddress(
                new InetSocketAddress("127.0.0.1", 0)), new ControlAuthorizer(ControlAuthorizer.Transport.LOOPBACK,
                () -> ControlAccess.onlyRoot(Optional.of(ControlRole.READ_ONLY)), UnixAccounts.SYSTEM, 0));
        server = new ControlServer(List.of(ControlAuthorizerTest.operatorListener(
                NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))), readOnly), service).start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
        stub = MigrationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        readOnlyChannel = NettyChannelBuilder.forAddress("127.0.0.1", server.port(1)).usePlaintext().build();
        readOnlyStub = MigrationServiceGrpc.newBlockingStub(readOnlyChannel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        readOnlyChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        for (io.grpc.Server s : server.serversForTests()) {
            s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private ServingStatus health(String service) {
        return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    @Test
    void healthIsServingOnlyOnceTheDaemonSaysSoAndNotWhileItStops() {
        assertEquals(ServingStatus.NOT_SERVING, health(""));
        assertEquals(ServingStatus.NOT_SERVING, health(ControlServer.SERVICE));
        server.serving();
        assertEquals(ServingStatus.SERVING, health(""));
        assertEquals(ServingStatus.SERVING, health(ControlServer.SERVICE));
        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> health("no.such.Service"));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
    }

    @Test
    void reflectionListsTheMigrationServiceAndHealth() throws Exception {
        LinkedBlockingQueue<ServerReflectionResponse> answers = new LinkedBlockingQueue<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel).serverReflectionInfo(
                new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse r) {
                        answers.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answers.add(ServerReflectionResponse.newBuilder().setErrorResponse(
                                io.grpc.reflection.v1.ErrorResponse.newBuilder().setErrorMessage(t.toString())).build());
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        ServerReflectionResponse r = answers.poll(10, TimeUnit.SECONDS);
        assertNotNull(r, "no reflection answer");
        Set<String> names = new java.util.HashSet<>();
        r.getListServicesResponse().getServiceList().forEach(s -> names.add(s.getName()));
        assertTrue(names.containsAll(List.of(ControlServer.SERVICE, "grpc.health.v1.Health")), names.toString());
        // a client can fetch the schema of the migration service without the .proto
        requests.onNext(ServerReflectionRequest.newBuilder().setFileContainingSymbol(ControlServer.SERVICE).build());
        r = answers.poll(10, TimeUnit.SECONDS);
        assertNotNull(r, "no reflection answer");
        assertTrue(r.getFileDescriptorResponse().getFileDescriptorProtoCount() > 0, r.toString());
        requests.onCompleted();
    }

    /** The ErrorInfo detail of a failed call, checked for the domain every error carries. */
    private static ErrorInfo errorInfo(StatusRuntimeException e) throws InvalidProtocolBufferException {
        com.google.rpc.Status s = StatusProto.fromThrowable(e);
        assertNotNull(s, "no google.rpc.Status details in " + e.getStatus());
        assertEquals(e.getStatus().getCode().value(), s.getCode());
        assertEquals(e.getStatus().getDescription(), s.getMessage());
        assertEquals(1, s.getDetailsCount(), s.toString());
        ErrorInfo info = s.getDetails(0).unpack(ErrorInfo.class);
        assertEquals(Errors.ERROR_DOMAIN, info.getDomain());
        return info;
    }

    private static StatusRuntimeException refused(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run);
    }

    @Test
    void refusalsCarryAReasonAndTheNamesInvolved() throws Exception {
        when(engine.start(any())).thenThrow(new EngineException.DomainBusyException("dom7", "m-1"));
        StatusRuntimeException e = refused(() -> stub.startMigration(start("dom7", "hostB")));
        ErrorInfo info = errorInfo(e);
        assertEquals("DOMAIN_BUSY", info.getReason());
        assertEquals(Map.of("domain", "dom7", "migration", "m-1"), info.getMetadataMap());

        org.mockito.Mockito.reset(engine);
        when(engine.start(any())).thenThrow(new EngineException.UnknownPeerException("hostZ"));
        e = refused(() -> stub.startMigration(start("dom7", "hostZ")));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        assertEquals("UNKNOWN_PEER", errorInfo(e).getReason());

        e = refused(() -> stub.startMigration(start("", "hostB")));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertEquals("INVALID_FIELD", errorInfo(e).getReason());
        assertEquals(Map.of("field", "domain"), errorInfo(e).getMetadataMap());

        e = refused(() -> stub.createDomain(CreateDomainRequest.newBuilder().setName("d").build()));
        assertEquals("SIM_BACKEND_ONLY", errorInfo(e).getReason());
        assertEquals(Map.of("backend", "xen"), errorInfo(e).getMetadataMap());

        when(hypervisor.listDomains()).thenThrow(new HypervisorException("xc_domain_getinfolist", null, "permission denied"));
        e = refused(() -> stub.listDomains(ListDomainsRequest.getDefaultInstance()));
        assertEquals("HYPERVISOR_REFUSED", errorInfo(e).getReason());
        assertEquals(Map.of("operation", "xc_domain_getinfolist"), errorInfo(e).getMetadataMap());
    }

    /** A call that makes the server answer with the code. */
    private Map<Status.Code, Supplier<StatusRuntimeException>> oneCallPerCode() throws Exception {
        Map<Status.Code, Supplier<StatusRuntimeException>> calls = new EnumMap<>(Status.Code.class);
        when(engine.find("nope")).thenReturn(Optional.empty());
        when(engine.list()).thenReturn(List.of());
        calls.put(Status.Code.NOT_FOUND, () -> refused(() -> stub.getMigration(GetMigrationRequest.newBuilder().setId("nope").build())));
        calls.put(Status.Code.INVALID_ARGUMENT, () -> refused(() -> stub.startMigration(start("dom7", "hostA"))));
        calls.put(Status.Code.UNIMPLEMENTED, () -> refused(() -> stub.destroyDomain(DestroyDomainRequest.newBuilder().setName("d").build())));
        when(engine.start(any())).thenAnswer(inv -> {
            String domain = inv.<dev.migrationd.daemon.engine.run.MigrationRequest>getArgument(0).domain();
            throw switch (domain) {
                case "exists" -> new EngineException(EngineException.Kind.ALREADY_EXISTS, "migration id taken");
                case "busy" -> new EngineException.DomainBusyException("busy", "m-2");
                default -> new NullPointerException("a bug");
            };
        });
        calls.put(Status.Code.ALREADY_EXISTS, () -> refused(() -> stub.startMigration(start("exists", "hostB"))));
        calls.put(Status.Code.FAILED_PRECONDITION, () -> refused(() -> stub.startMigration(start("busy", "hostB"))));
        calls.put(Status.Code.INTERNAL, () -> refused(() -> stub.startMigration(start("bug", "hostB"))));
        calls.put(Status.Code.PERMISSION_DENIED, () -> refused(() -> readOnlyStub.startMigration(start("dom7", "hostB"))));
        // last: the server stops taking calls, as the daemon does first when it stops
        calls.put(Status.Code.UNAVAILABLE, () -> {
            server.stopAccepting();
            // the client learns of the shutdown from the server's GOAWAY: a call sent before it arrived is
            // still served; from then on every call is refused
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                try {
                    stub.listDomains(ListDomainsRequest.getDefaultInstance());
                } catch (StatusRuntimeException e) {
                    return e;
                }
                assertTrue(System.nanoTime() < deadline, "calls are still served 10 s after stopAccepting");
            }
        });
        return calls;
    }

    @Test
    void theCodesTheProtoDocumentsAreTheCodesTheServerReturns() throws Exception {
        String proto = Files.readString(PROTO);
        String errors = proto.substring(proto.indexOf("// Errors:"), proto.indexOf("// Each status"));
        Set<Status.Code> documented = EnumSet.noneOf(Status.Code.class);
        Matcher m = Pattern.compile("^//   ([A-Z_]+) ", Pattern.MULTILINE).matcher(errors);
        while (m.find()) {
            documented.add(Status.Code.valueOf(m.group(1)));
        }
        Map<Status.Code, Supplier<StatusRuntimeException>> calls = oneCallPerCode();
        assertEquals(calls.keySet(), documented, "codes in the .proto's error list vs codes this test provokes");
        for (Map.Entry<Status.Code, Supplier<StatusRuntimeException>> c : calls.entrySet()) {
            StatusRuntimeException e = c.getValue().get();
            assertEquals(c.getKey(), e.getStatus().getCode(), e.getStatus().toString());
            if (c.getKey() != Status.Code.UNAVAILABLE) {
                assertTrue(errorInfo(e).getReason().matches("[A-Z][A-Z_]*[A-Z]"), errorInfo(e).getReason());
            }
        }
    }

    private static StartMigrationRequest start(String domain, String destination) {
        return StartMigrationRequest.newBuilder().setDomain(domain).setDestination(destination).build();
    }
}
