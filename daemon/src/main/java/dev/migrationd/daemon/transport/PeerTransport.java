package dev.migrationd.daemon.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import dev.migrationd.daemon.engine.peer.PeerCredentials;
import dev.migrationd.daemon.tls.CertNames;
import dev.migrationd.daemon.tls.PeerTls;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty runtime of the peer transport: one event-loop group (epoll where available, NIO otherwise)
 * and the pipeline every peer connection gets: TLS ({@link PeerTls}, unless the link is plaintext by
 * {@code --insecure-peer-link}), framing ({@link PeerFrameDecoder}/{@link PeerFrameEncoder}), then the
 * protocol ({@link NettyPeerConnection}).
 *
 * <p>An accepted connection reaches the engine only once its TLS handshake succeeded, with the names its
 * verified certificate proves ({@link PeerCredentials}); a failed handshake (no certificate, an unknown
 * CA, an expired certificate, a timeout) is logged as a refusal and closed, and the engine never sees it.
 * Accepted connections beyond {@link PeerLinkSettings#maxConnections()} are closed as they arrive.
 *
 * <p>Threading: the group's event loops run all pipelines. Construction and {@link #close()} happen on
 * the daemon's main thread; {@link #bootstrap}/{@link #serverBootstrap} may be used from any thread. The
 * open-connection count is atomic.
 */
public final class PeerTransport implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PeerTransport.class);

    /** Event-loop threads: peer connections are few and the work per byte is small. */
    public static final int DEFAULT_THREADS = 2;
    /** Default connect timeout for outgoing peer connections. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** At most one "too many connections" line per this many refused connections. */
    static final int REFUSAL_LOG_EVERY = 100;

    private final EventLoopGroup group;
    private final boolean epoll;
    private final int connectTimeoutMillis;
    private final PeerLinkSettings settings;
    /** Accepted connections open now (the cap's count). */
    private final AtomicInteger openIncoming = new AtomicInteger();
    private final AtomicLong refusedOverCap = new AtomicLong();

    /** A plaintext transport with default bounds (tests of the transport and the engine). */
    public PeerTransport() {
        this(DEFAULT_THREADS, Epoll.isAvailable(), PeerLinkSettings.PLAINTEXT, DEFAULT_CONNECT_TIMEOUT);
    }

    public PeerTransport(PeerLinkSettings settings) {
        this(DEFAULT_THREADS, Epoll.isAvailable(), settings, DEFAULT_CONNECT_TIMEOUT);
    }

    /** @param connectTimeout how long an outgoing connection may take to be established (1 ms .. Integer.MAX_VALUE ms) */
    public PeerTransport(PeerLinkSettings settings, Duration connectTimeout) {
        this(DEFAULT_THREADS, Epoll.isAvailable(), settings, connectTimeout);
    }

    public PeerTransport(int threads, boolean useEpoll, PeerLinkSettings settings) {
        this(threads, useEpoll, settings, DEFAULT_CONNECT_TIMEOUT);
    }

    public PeerTransport(int threads, boolean useEpoll, PeerLinkSettings settings, Duration connectTimeout) {
        long ms = connectTimeout.toMillis();
        if (ms < 1 || ms > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("connect timeout must be 1 ms .. " + Integer.MAX_VALUE + " ms, not " + connectTimeout);
        }
        this.connectTimeoutMillis = (int) ms;
        this.epoll = useEpoll && Epoll.isAvailable();
        this.settings = settings;
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, factory);
        LOG.info("event=peer_transport_started io={} threads={} tls={} max_connections={} write_timeout_ms={} compression={}",
                epoll ? "epoll" : "nio", threads, settings.tls().map(PeerTls::provider).orElse("off"),
                settings.maxConnections(), settings.writeTimeout().toMillis(), settings.compression().label());
    }

    /** Whether the native epoll transport is used. */
    public boolean epoll() {
        return epoll;
    }

    public EventLoopGroup group() {
        return group;
    }

    public PeerLinkSettings settings() {
        return settings;
    }

    /** Accepted peer connections open now. */
    public int openIncoming() {
        return openIncoming.get();
    }

    Bootstrap bootstrap(String peerName, int port, Consumer<NettyPeerConnection> onInit) {
        return new Bootstrap().group(group)
                .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        NettyPeerConnection connection = new NettyPeerConnection(ch, peerName, true, settings.writeTimeout(),
                                settings.compression());
                        settings.tls().ifPresent(tls -> {
                            SslHandler h = tls.clientHandler(ch.alloc(), peerName, port);
                            h.setHandshakeTimeoutMillis(settings.handshakeTimeout().toMillis());
                            ch.pipeline().addLast("tls", h);
                        });
                        addProtocol(ch, connection);
                        onInit.accept(connection);
                    }
                });
    }

    ServerBootstrap serverBootstrap(Consumer<NettyPeerConnection> onAccepted) {
        Class<? extends ServerChannel> serverChannel = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        return new ServerBootstrap().group(group).channel(serverChannel)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted(ch, onAccepted);
                    }
                });
    }

    /** On the event loop: counts the connection against the cap, then TLS (if on), then hands it over. */
    private void accepted(SocketChannel ch, Consumer<NettyPeerConnection> onAccepted) {
        InetSocketAddress remote = ch.remoteAddress();
        String remoteText = remote.getAddress().getHostAddress() + ":" + remote.getPort();
        if (openIncoming.incrementAndGet() > settings.maxConnections()) {
            openIncoming.decrementAndGet();
            long n = refusedOverCap.incrementAndGet();
            if (n % REFUSAL_LOG_EVERY == 1) {
                LOG.warn("event=peer_connection_refused remote={} reason=\"too many peer connections (max-peer-connections {})\" refused_so_far={}",
                        remoteText, settings.maxConnections(), n);
            }
            ch.close();
            return;
        }
        ch.closeFuture().addListener(f -> openIncoming.decrementAndGet());
        NettyPeerConnection connection = new NettyPeerConnection(ch, "incoming:" + remoteText, false, settings.writeTimeout(),
                settings.compression());
        if (settings.tls().isEmpty()) {
            addProtocol(ch, connection);
            connection.established(PeerCredentials.UNAUTHENTICATED);
            onAccepted.accept(connection);
            return;
        }
        PeerTls tls = settings.tls().get();
        SslHandler h = tls.serverHandler(ch.alloc(), remote.getAddress().getHostAddress(), remote.getPort());
        h.setHandshakeTimeoutMillis(settings.handshakeTimeout().toMillis());
        ch.pipeline().addLast("tls", h);
        addProtocol(ch, connection);
        h.handshakeFuture().addListener(f -> {
            String claimed = tls.claimedBy(remote.getAddress().getHostAddress(), remote.getPort());
            if (!f.isSuccess()) {
                LOG.warn("event=peer_refused stage=tls remote={} identity=none claimed_identity={} reason=\"{}\"", remoteText,
                        claimed, PeerTls.describeFailure(f.cause()));
                ch.close();
                return;
            }
            List<String> names;
            try {
                names = CertNames.dnsNames(h.engine().getSession().getPeerCertificates());
            } catch (SSLPeerUnverifiedException e) {
                LOG.warn("event=peer_refused stage=tls remote={} identity=none reason=\"no verified certificate\"", remoteText);
                ch.close();
                return;
            }
            connection.established(PeerCredentials.certificate(names));
            LOG.info("event=peer_connected remote={} identity={} protocol={} cipher={}", remoteText, CertNames.describe(names),
                    h.engine().getSession().getProtocol(), h.engine().getSession().getCipherSuite());
            onAccepted.accept(connection);
        });
    }

    private static WriteBufferWaterMark waterMark() {
        return new WriteBufferWaterMark(NettyPeerConnection.WRITE_LOW_WATER, NettyPeerConnection.WRITE_HIGH_WATER);
    }

    private static void addProtocol(SocketChannel ch, NettyPeerConnection connection) {
        ch.pipeline().addLast("frame-decoder", new PeerFrameDecoder())
                .addLast("frame-encoder", PeerFrameEncoder.INSTANCE)
                .addLast("protocol", connection);
    }

    /** Opens a channel to an address, blocking the caller (a migration's virtual thread). */
    static Channel connect(Bootstrap b, InetSocketAddress address) throws IOException {
        var future = b.connect(address).awaitUninterruptibly();
        if (!future.isSuccess()) {
            Throwable c = future.cause();
            throw new IOException("connect to " + address + " failed: "
                    + (c == null ? "unknown" : c.getMessage()), c);
        }
        return future.channel();
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
