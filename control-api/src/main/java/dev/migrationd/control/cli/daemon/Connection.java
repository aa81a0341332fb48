package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.GlobalOptions;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/** A channel to one daemon and its stubs; closed when the command ends. */
public record Connection(String address, ManagedChannel channel, EventLoopGroup loop) implements AutoCloseable {

    /** Deadline of a unary call, including the wait for the daemon's connection. */
    static final long CALL_TIMEOUT_SECONDS = 30;
    /** The only TLS version the daemon speaks. */
    static final String TLS_PROTOCOL = "TLSv1.3";

    /**
     * A connection to the daemon at {@code address}: {@code unix:PATH} (the control socket) or {@code HOST:PORT}
     * (the host possibly in brackets), TCP with mutual TLS when {@code tls} names files. Close it with
     * {@link #close()}. A bad address or TLS option: IllegalArgumentException naming it; unreadable TLS files:
     * {@link CliException}.
     */
    static Connection open(String address, GlobalOptions.ClientTls tls) {
        if (address.startsWith(GlobalOptions.UNIX_PREFIX)) {
            String path = address.substring(GlobalOptions.UNIX_PREFIX.length());
            if (!path.startsWith("/")) {
                throw new IllegalArgumentException("--daemon '" + address + "': expected unix:/ABSOLUTE/PATH");
            }
            if (tls.any()) {
                throw new IllegalArgumentException("--tls-* options are for a daemon on TCP; its Unix socket " + path
                        + " needs none (the kernel tells the daemon who you are)");
            }
            EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(path))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop)
                    // gRPC asks for TCP keep-alive, which a Unix socket has not (Netty would warn)
                    .withOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, null)
                    .overrideAuthority("localhost").usePlaintext().build();
            return new Connection(address, channel, loop);
        }
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new IllegalArgumentException("--daemon '" + address + "': expected unix:PATH or HOST:PORT, e.g. "
                    + GlobalOptions.UNIX_PREFIX + GlobalOptions.DEFAULT_SOCKET + " or " + GlobalOptions.DEFAULT_ADDR);
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
        NettyChannelBuilder b = NettyChannelBuilder.forAddress(host, port);
        if (tls.any()) {
            b.sslContext(clientContext(tls));
            if (tls.serverName() != null) {
                b.overrideAuthority(tls.serverName());
            }
        } else {
            b.usePlaintext();
        }
        return new Connection(address, b.build(), null);
    }

    private static SslContext clientContext(GlobalOptions.ClientTls tls) {
        List<String> missing = new ArrayList<>();
        if (tls.ca() == null) {
            missing.add("--tls-ca");
        }
        if (tls.cert() == null) {
            missing.add("--tls-cert");
        }
        if (tls.key() == null) {
            missing.add("--tls-key");
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("mutual TLS needs --tls-ca, --tls-cert and --tls-key; missing: "
                    + String.join(", ", missing));
        }
        for (String f : List.of(tls.ca(), tls.cert(), tls.key())) {
            if (!new File(f).canRead()) {
                throw new CliException(ExitCode.IO, "cannot read " + f + " (TLS option)");
            }
        }
        try {
            return GrpcSslContexts.forClient().protocols(TLS_PROTOCOL).trustManager(new File(tls.ca()))
                    .keyManager(new File(tls.cert()), new File(tls.key())).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new CliException(ExitCode.IO, "cannot use the TLS files " + tls.cert() + ", " + tls.key() + " and "
                    + tls.ca() + ": " + e.getMessage());
        }
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
        if (loop != null) {
            loop.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }
}
