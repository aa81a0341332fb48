package dev.migrationd.daemon.control;

import io.grpc.Server;
import io.grpc.ServerBuilder;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's gRPC server. It takes its {@link ServerBuilder} from outside: the
 * daemon passes a Netty builder bound to {@code --control-listen}, tests an in-process one.
 */
public final class ControlServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
    /** How long {@link #close()} lets running calls finish before cutting them. */
    static final long GRACE_SECONDS = 5;

    private final Server server;

    public ControlServer(ServerBuilder<?> builder, ControlService service) {
        this.server = builder.addService(service).build();
    }

    /** Starts listening; fails with an IOException naming the cause (e.g. the address is in use). */
    public ControlServer start() throws IOException {
        server.start();
        return this;
    }

    /** The bound port (useful with port 0), or -1 for in-process servers. */
    public int port() {
        return server.getPort();
    }

    /** The gRPC server (tests use it to stop an in-process server at once). */
    Server serverForTests() {
        return server;
    }

    /** Refuses new calls; running ones (watch streams) go on until {@link #close()}. */
    public void stopAccepting() {
        server.shutdown();
    }

    /** Stops accepting calls, lets running ones finish for a few seconds, then cuts the rest (watch streams). */
    @Override
    public void close() {
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
        LOG.info("event=control_stopped");
    }
}
