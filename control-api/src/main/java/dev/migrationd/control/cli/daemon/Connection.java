package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.cli.GlobalOptions;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/** A channel to one daemon and its stubs; closed when the command ends. */
public record Connection(String address, ManagedChannel channel) implements AutoCloseable {

    /** Deadline of a unary call, including the wait for the daemon's connection. */
    static final long CALL_TIMEOUT_SECONDS = 30;

    /**
     * A connection to the daemon at {@code address} ({@code HOST:PORT}, the host possibly in brackets); close it
     * with {@link #close()}. A bad address: IllegalArgumentException naming it.
     */
    static Connection open(String address) {
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new IllegalArgumentException("--daemon '" + address + "': expected HOST:PORT, e.g. "
                    + GlobalOptions.DEFAULT_ADDR);
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--daemon '" + address + "': port must be 1..65535");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        return new Connection(address, channel);
    }

    /** For unary calls: each has a deadline of {@value #CALL_TIMEOUT_SECONDS} s. */
    public MigrationServiceGrpc.MigrationServiceBlockingStub blocking() {
        return MigrationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** For server streams: no deadline (a migration may take long). Both fail fast when the daemon is down. */
    public MigrationServiceGrpc.MigrationServiceBlockingStub streaming() {
        return MigrationServiceGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
