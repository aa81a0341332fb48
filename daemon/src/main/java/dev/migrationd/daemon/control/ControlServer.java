package dev.migrationd.daemon.control;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's gRPC servers, one per listener ({@code control-listen}: the Unix socket, TCP with mutual TLS,
 * plaintext loopback TCP; tests an in-process one): each serves the migration service, the standard health
 * service ({@code grpc.health.v1.Health}) and server reflection (so {@code grpcurl} and {@code grpc_health_probe}
 * work without the .proto), behind that listener's {@link ControlAuthorizer}, which decides every call.
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

    /**
     * One listener: its address for logs, its server builder (bound, with its transport and credentials), the
     * authorizer that identifies its callers, and what to do once it has started and once it has stopped (the
     * Unix socket's file mode and removal, its event loop).
     */
    public record Listener(String address, ServerBuilder<?> builder, ControlAuthorizer authorizer, Hook started,
                           AutoCloseable stopped) {
        /** A listener with nothing to do after start or stop. */
        public Listener(String address, ServerBuilder<?> builder, ControlAuthorizer authorizer) {
            this(address, builder, authorizer, () -> { }, () -> { });
        }
    }

    /** Runs once a listener's server has started (e.g. sets the socket file's mode). */
    @FunctionalInterface
    public interface Hook {
        void run() throws IOException;
    }

    private final List<Listener> listeners;
    private final List<Server> servers = new ArrayList<>();
    private final HealthStatusManager health = new HealthStatusManager();
    private boolean closed;
    private boolean terminal;

    /** Health NOT_SERVING for good (once: gRPC warns with a stack trace when asked twice). */
    private void terminal() {
        if (!terminal) {
            terminal = true;
            health.enterTerminalState();
        }
    }

    public ControlServer(List<Listener> listeners, ControlService service) {
        this.listeners = List.copyOf(listeners);
        for (Listener l : this.listeners) {
            servers.add(l.builder().addService(ServerInterceptors.intercept(service, l.authorizer()))
                    .addService(ServerInterceptors.intercept(health.getHealthService(), l.authorizer()))
                    .addService(ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), l.authorizer()))
                    .build());
        }
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(SERVICE, ServingStatus.NOT_SERVING);
    }

    /**
     * Starts listening on every address, in order; fails with an IOException naming the cause (e.g. the address is
     * in use), after stopping those already started.
     */
    public ControlServer start() throws IOException {
        for (int i = 0; i < servers.size(); i++) {
            try {
                servers.get(i).start();
                listeners.get(i).started().run();
            } catch (IOException | RuntimeException e) {
                close();
                throw e instanceof IOException io ? new IOException(listeners.get(i).address() + ": " + io.getMessage(), io)
                        : new IOException(listeners.get(i).address() + ": " + e.getMessage(), e);
            }
        }
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

    /** The bound port of the first TCP listener (useful with port 0), or -1 when there is none. */
    public int port() {
        for (Server s : servers) {
            for (java.net.SocketAddress a : s.getListenSockets()) {
                if (a instanceof java.net.InetSocketAddress in) {
                    return in.getPort();
                }
            }
        }
        return -1;
    }

    /** The listeners, in the order of {@code control-listen}. */
    public List<Listener> listeners() {
        return listeners;
    }

    /** The bound TCP port of listener {@code i}, or -1 for a Unix socket or an in-process listener. */
    public int port(int i) {
        return servers.get(i).getListenSockets().stream().filter(a -> a instanceof java.net.InetSocketAddress)
                .mapToInt(a -> ((java.net.InetSocketAddress) a).getPort()).findFirst().orElse(-1);
    }

    /** The gRPC server of the first listener (tests use it to stop an in-process server at once). */
    Server serverForTests() {
        return servers.getFirst();
    }

    /** Every listener's gRPC server (tests stop them at once). */
    List<Server> serversForTests() {
        return servers;
    }

    /**
     * Refuses new calls (callers get UNAVAILABLE) and turns health checks to NOT_SERVING; running calls
     * (watch streams) go on until {@link #close()}.
     */
    public synchronized void stopAccepting() {
        terminal();
        servers.forEach(Server::shutdown);
    }

    /** Stops accepting calls, lets running ones finish for a few seconds, then cuts the rest (watch streams). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        terminal();
        servers.forEach(Server::shutdown);
        try {
            for (Server server : servers) {
                if (!server.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) {
                    server.shutdownNow();
                    server.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            servers.forEach(Server::shutdownNow);
            Thread.currentThread().interrupt();
        }
        for (Listener l : listeners) {
            try {
                l.stopped().close();
            } catch (Exception e) {
                LOG.atWarn().setMessage("event=control_listener_cleanup_failed").addKeyValue("address", l.address())
                        .addKeyValue("error", e.toString()).log();
            }
        }
        LOG.atInfo().setMessage("event=control_stopped").log();
    }
}
