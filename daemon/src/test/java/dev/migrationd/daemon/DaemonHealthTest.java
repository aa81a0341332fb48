package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.daemon.control.ControlServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A started daemon answers health checks SERVING, on its control address and on the health-only listener. */
class DaemonHealthTest {

    @TempDir
    Path dir;

    private static ServingStatus check(ManagedChannel ch, String service) {
        return HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    @Test
    void theHealthListenerServesHealthAndNothingElse() throws Exception {
        Map<String, String> flags = new java.util.HashMap<>(Map.of(DaemonConfig.KEY_NAME, "hostA",
                DaemonConfig.KEY_STATE_DIR, dir.resolve("state").toString(), DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_HEALTH_LISTEN, "127.0.0.1:0"));
        flags.putAll(TestCerts.keys(TestCerts.host(dir.resolve("tls"), "hostA")));
        DaemonConfig config = DaemonConfig.resolve(null, flags, List.of());
        try (Daemon d = Daemon.start(config)) {
            assertTrue(d.healthPort() > 0);
            ManagedChannel control = NettyChannelBuilder.forAddress("127.0.0.1", d.controlPort()).usePlaintext().build();
            ManagedChannel health = NettyChannelBuilder.forAddress("127.0.0.1", d.healthPort()).usePlaintext().build();
            try {
                for (ManagedChannel ch : List.of(control, health)) {
                    assertEquals(ServingStatus.SERVING, check(ch, ""));
                    assertEquals(ServingStatus.SERVING, check(ch, ControlServer.SERVICE));
                }
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> MigrationServiceGrpc
                        .newBlockingStub(health).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .listDomains(ListDomainsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), "the control API is not on the health listener");
            } finally {
                control.shutdownNow();
                health.shutdownNow();
            }
        }
    }
}
