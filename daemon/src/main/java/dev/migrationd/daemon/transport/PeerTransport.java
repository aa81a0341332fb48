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
import java.time.Duration;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty runtime of the peer transport: one event-loop group (epoll where available, NIO otherwise)
 * and the pipeline every peer connection gets: framing ({@link PeerFrameDecoder}/{@link PeerFrameEncoder})
 * then the protocol ({@link NettyPeerConnection}). TLS, when added, goes first.
 *
 * <p>Threading: the group's event loops run all pipelines. Construction and {@link #close()} happen on
 * the daemon's main thread; {@link #bootstrap}/{@link #serverBootstrap} may be used from any thread.
 */
public final class PeerTransport implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PeerTransport.class);

    /** Event-loop threads: peer connections are few and the work per byte is small. */
    public static final int DEFAULT_THREADS = 2;
    /** Default connect timeout for outgoing peer connections. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private final EventLoopGroup group;
    private final boolean epoll;
    private final int connectTimeoutMillis;

    public PeerTransport() {
        this(DEFAULT_CONNECT_TIMEOUT);
    }

    /** @param connectTimeout how long an outgoing connection may take to be established (1 ms .. Integer.MAX_VALUE ms) */
    public PeerTransport(Duration connectTimeout) {
        this(DEFAULT_THREADS, Epoll.isAvailable(), connectTimeout);
    }

    public PeerTransport(int threads, boolean useEpoll) {
        this(threads, useEpoll, DEFAULT_CONNECT_TIMEOUT);
    }

    public PeerTransport(int threads, boolean useEpoll, Duration connectTimeout) {
        long ms = connectTimeout.toMillis();
        if (ms < 1 || ms > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("connect timeout must be 1 ms .. " + Integer.MAX_VALUE + " ms, not " + connectTimeout);
        }
        this.connectTimeoutMillis = (int) ms;
        this.epoll = useEpoll && Epoll.isAvailable();
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, factory);
        LOG.info("event=peer_transport_started io={} threads={}", epoll ? "epoll" : "nio", threads);
    }

    /** Whether the native epoll transport is used. */
    public boolean epoll() {
        return epoll;
    }

    public EventLoopGroup group() {
        return group;
    }

    Bootstrap bootstrap(String peerName, Consumer<NettyPeerConnection> onActive) {
        return new Bootstrap().group(group)
                .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .handler(initializer(peerName, onActive));
    }

    ServerBootstrap serverBootstrap(Consumer<NettyPeerConnection> onAccepted) {
        Class<? extends ServerChannel> serverChannel = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        return new ServerBootstrap().group(group).channel(serverChannel)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .childHandler(initializer(null, onAccepted));
    }

    private static WriteBufferWaterMark waterMark() {
        return new WriteBufferWaterMark(NettyPeerConnection.WRITE_LOW_WATER, NettyPeerConnection.WRITE_HIGH_WATER);
    }

    private static ChannelInitializer<SocketChannel> initializer(String peerName, Consumer<NettyPeerConnection> onInit) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                NettyPeerConnection connection = new NettyPeerConnection(ch,
                        peerName != null ? peerName : "incoming:" + ch.remoteAddress());
                ch.pipeline().addLast("frame-decoder", new PeerFrameDecoder())
                        .addLast("frame-encoder", PeerFrameEncoder.INSTANCE)
                        .addLast("protocol", connection);
                onInit.accept(connection);
            }
        };
    }

    /** Opens a channel to an address, blocking the caller (a migration's virtual thread). */
    static Channel connect(Bootstrap b, java.net.InetSocketAddress address) throws java.io.IOException {
        var future = b.connect(address).awaitUninterruptibly();
        if (!future.isSuccess()) {
            Throwable c = future.cause();
            throw new java.io.IOException("connect to " + address + " failed: "
                    + (c == null ? "unknown" : c.getMessage()), c);
        }
        return future.channel();
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
