package dev.migrationd.daemon.control;

import io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the control API's listeners: the Unix socket (file mode and group set by the daemon, callers known by
 * SO_PEERCRED), TCP with mutual TLS, and plaintext loopback TCP.
 */
public final class ControlListeners {

    private static final Logger LOG = LoggerFactory.getLogger(ControlListeners.class);
    /** The file type bits of a socket in st_mode (S_IFSOCK), and the mask of the type bits (S_IFMT). */
    static final int S_IFSOCK = 0140000;
    static final int S_IFMT = 0170000;
    /** Longest socket path the kernel takes (sun_path is 108 bytes with its terminating NUL). */
    public static final int MAX_SOCKET_PATH = 107;

    private ControlListeners() {
    }

    /**
     * The Unix socket at {@code path}. Before binding, a socket file left by a daemon that is gone is removed; a
     * socket another process still answers on, or a file that is not a socket, is refused (nothing is removed).
     * Once bound, the file gets {@code mode} and, if given, {@code group}; who may connect is the kernel's
     * decision from those, and what each caller may do is the authorizer's, from its uid.
     */
    public static ControlServer.Listener unix(Path path, Set<PosixFilePermission> mode, Optional<String> group,
                                              ControlAuthorizer authorizer) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        }
        removeStale(path);
        EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new DomainSocketAddress(path.toString()),
                        InternalNettyServerCredentials.create(new UnixPeerNegotiator()))
                .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(loop).workerEventLoopGroup(loop)
                // gRPC asks every connection for TCP keep-alive, which a Unix socket has not (Netty warns each time)
                .withChildOption(io.netty.channel.ChannelOption.SO_KEEPALIVE, null);
        String address = "unix:" + path;
        return new ControlServer.Listener(address, builder, authorizer, () -> {
            Files.setPosixFilePermissions(path, mode);
            if (group.isPresent()) {
                GroupPrincipal g;
                try {
                    g = FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(group.get());
                } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
                    throw new IOException("control-socket-group '" + group.get() + "': no such group on this host");
                }
                try {
                    Files.getFileAttributeView(path, java.nio.file.attribute.PosixFileAttributeView.class,
                            LinkOption.NOFOLLOW_LINKS).setGroup(g);
                } catch (IOException e) {
                    throw new IOException("cannot give " + path + " to group " + group.get() + " (control-socket-group): "
                            + e.getMessage() + "; the daemon's user must be root or a member of that group");
                }
            }
            LOG.atInfo().setMessage("event=control_socket_ready").addKeyValue("path", path)
                    .addKeyValue("mode", PosixFilePermissions.toString(mode))
                    .addKeyValue("group", group.orElse("(the daemon's)")).log();
        }, () -> {
            try {
                if (isSocket(path)) {
                    Files.deleteIfExists(path);
                }
            } finally {
                loop.shutdownGracefully(0, ControlServer.GRACE_SECONDS, TimeUnit.SECONDS);
            }
        });
    }

    /** Plaintext TCP on a loopback address (the configuration has checked that it is one). */
    public static ControlServer.Listener loopback(InetSocketAddress address, ControlAuthorizer authorizer) {
        return new ControlServer.Listener(address.getAddress().getHostAddress() + ":" + address.getPort(),
                NettyServerBuilder.forAddress(address), authorizer);
    }

    /** TCP with mutual TLS. */
    public static ControlServer.Listener tls(InetSocketAddress address, SslContext context, ControlAuthorizer authorizer) {
        return new ControlServer.Listener(address.getAddress().getHostAddress() + ":" + address.getPort(),
                NettyServerBuilder.forAddress(address).sslContext(context), authorizer);
    }

    private static void removeStale(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(path)) {
            throw new IOException(path + " exists and is not a socket; not replaced");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IOException(path + ": address already in use (another process answers on this socket)");
        } catch (java.net.ConnectException refused) {
            // nobody listens: the socket of a daemon that is gone
            Files.delete(path);
            LOG.atInfo().setMessage("event=control_socket_stale_removed").addKeyValue("path", path).log();
        }
    }

    private static boolean isSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & S_IFMT) == S_IFSOCK;
    }
}
