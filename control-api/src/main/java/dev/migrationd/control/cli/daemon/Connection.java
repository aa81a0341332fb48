package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.v1.MigrationServiceGrpc;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/** A channel to one daemon and its stubs; closed when the command ends. */
public record Connection(String address, ManagedChannel channel) implements AutoCloseable {

    /** Deadline of a unary call, including the wait for the daemon's connection. */
    static final long CALL_TIMEOUT_SECONDS = 30;

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
