package dev.migrationd.daemon.control;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's gRPC server: the migration service, the standard health service
 * ({@code grpc.health.v1.Health}) and server reflection (so {@code grpcurl} and {@code grpc_health_probe}
 * work without the .proto). It takes its {@link ServerBuilder} from outside: the daemon passes a Netty
 * builder bound to {@code --control-listen}, tests an in-process one.
 *
 * <p>Health: NOT_SERVING from start until the daemon calls {@link #serving()} once every listener is
 * bound; NOT_SERVING again (for good) from {@link #stopAccepting()}. It answers for the whole server
 * ({@code ""}) and for {@link #SERVICE}.
 *
 * <p>Threading: start, serving, stopAccepting and close are called by the daemon's start/stop thread; the
 * health manager is thread-safe.
 */
public final class ControlServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
    /** How long {@link #close()} lets running calls finish before cutting them. */
    public static final long GRACE_SECONDS = 5;
    /** The migration service's full name, as health checks name it. */
    public static final String SERVICE = "dev.migrationd.v1.MigrationService";

    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    public ControlServer(ServerBuilder<?> builder, ControlService service) {
        this.server = builder.addService(service)
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .build();
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(SERVICE, ServingStatus.NOT_SERVING);
    }

    /** Starts listening; fails with an IOException naming the cause (e.g. the address is in use). */
    public ControlServer start() throws IOException {
        server.start();
        return this;
    }

    /** Health checks answer SERVING from now on (the daemon is ready: every listener is bound). */
    public void serving() {
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
        health.setStatus(SERVICE, ServingStatus.SERVING);
    }

    /** The health service alone, for a listener that serves nothing else (probes on a non-loopback address). */
    public io.grpc.BindableService healthService() {
        return health.getHealthService();
    }

    /** The bound port (useful with port 0), or -1 for in-process servers. */
    public int port() {
        return server.getPort();
    }

    /** The gRPC server (tests use it to stop an in-process server at once). */
    Server serverForTests() {
        return server;
    }

    /**
     * Refuses new calls (callers get UNAVAILABLE) and turns health checks to NOT_SERVING; running calls
     * (watch streams) go on until {@link #close()}.
     */
    public void stopAccepting() {
        health.enterTerminalState();
        server.shutdown();
    }

    /** Stops accepting calls, lets running ones finish for a few seconds, then cuts the rest (watch streams). */
    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdown();
        try {
            if (!server.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        LOG.atInfo().setMessage("event=control_stopped").log();
    }
}
