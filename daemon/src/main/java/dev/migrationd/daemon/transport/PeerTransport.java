package dev.migrationd.daemon.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
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
import io.netty.util.AttributeKey;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty runtime of the peer transport: one event-loop group (epoll where available, NIO otherwise)
 * and the pipeline every peer connection gets: TLS ({@link PeerTls}, unless the link is plaintext by
 * {@code --insecure-peer-link}), framing ({@link PeerFrameDecoder}/{@link PeerFrameEncoder}), then the
 * protocol ({@link NettyPeerConnection}).
 *
 * <p>An accepted connection reaches the engine only once its TLS handshake succeeded and its verified
 * certificate names a configured peer ({@link PeerCredentials}); a failed handshake (no certificate, an unknown
 * CA, an expired certificate, a timeout) or a certificate of no configured peer is logged as a refusal and
 * closed, and the engine never sees it. Until then a connection holds a place in the small unauthenticated
 * budget (per remote address and in total, {@link ConnectionBudget}); a connection for which it has no place is
 * reset as it arrives. Only proven peers count against {@link PeerLinkSettings#maxConnections()}. Refusals are
 * counted per {@link PeerRefusal} and logged through {@link RefusalLog}, which bounds the lines a flood writes.
 *
 * <p>Threading: the group's event loops run all pipelines; the listening sockets have an event loop of their own
 * (accepting, and refusing, is never held up by a migration's traffic). Construction and {@link #close()} happen on
 * the daemon's main thread; {@link #bootstrap}/{@link #serverBootstrap} may be used from any thread. The
 * budget and the refusal counts are thread-safe (see their classes).
 */
public final class PeerTransport implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PeerTransport.class);

    /** Event-loop threads: peer connections are few and the work per byte is small. */
    public static final int DEFAULT_THREADS = 2;
    /** Default connect timeout for outgoing peer connections. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final String LIMIT_PER_ADDRESS = "max-peer-handshakes-per-address";
    static final String LIMIT_HANDSHAKES = "max-peer-handshakes";

    private final EventLoopGroup group;
    /**
     * The listening sockets' own event loop: accepting, and refusing a flood, never waits behind the encryption of
     * a migration's stream on {@link #group}, and a flood takes no time from it.
     */
    private final EventLoopGroup acceptor;
    private final boolean epoll;
    private final int connectTimeoutMillis;
    private final PeerLinkSettings settings;
    /** Accepted connections open now, unauthenticated and proven. */
    private final ConnectionBudget budget;
    private final RefusalLog refusals;

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
        this.acceptor = new MultiThreadIoEventLoopGroup(1, new io.netty.util.concurrent.DefaultThreadFactory("peer-accept"),
                factory);
        this.budget = new ConnectionBudget(settings.maxConnections(), settings.maxHandshakes(), settings.maxHandshakesPerAddress());
        this.refusals = new RefusalLog(group, System::nanoTime, RefusalLog.WINDOW);
        LOG.info("event=peer_transport_started io={} threads={} tls={} max_connections={} max_handshakes={} "
                + "max_handshakes_per_address={} handshake_timeout_ms={} write_timeout_ms={} compression={}",
                epoll ? "epoll" : "nio", threads, settings.tls().map(PeerTls::provider).orElse("off"),
                settings.maxConnections(), settings.maxHandshakes(), settings.maxHandshakesPerAddress(),
                settings.handshakeTimeout().toMillis(), settings.writeTimeout().toMillis(),
                settings.compression().label());
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

    /** Accepted connections open now that have not proven a configured peer yet. */
    public int unauthenticatedConnections() {
        return budget.handshakes();
    }

    /** Accepted connections open now from {@code remote}'s address that have not proven a peer yet. */
    public int unauthenticatedConnectionsFrom(java.net.InetAddress remote) {
        return budget.handshakesFrom(remote);
    }

    /** Accepted connections of proven peers open now (what {@code max-peer-connections} bounds). */
    public int peerConnections() {
        return budget.peers();
    }

    /** Incoming connections refused or cut off for {@code why} since start. */
    public long refused(PeerRefusal why) {
        return refusals.count(why);
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

    /**
     * @param knownPeer whether a name is a configured peer: a certificate must name one to be let through
     */
    ServerBootstrap serverBootstrap(Predicate<String> knownPeer, Consumer<NettyPeerConnection> onAccepted) {
        Class<? extends ServerChannel> serverChannel = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        return new ServerBootstrap().group(acceptor, group).channel(serverChannel)
                .handler(new Gatekeeper())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted(ch, knownPeer, onAccepted);
                    }
                });
    }

    /**
     * On the event loop: the connection takes an unauthenticated place (or is closed at once), then has
     * {@link PeerLinkSettings#handshakeTimeout()} to prove a configured peer: with TLS, its handshake done and its
     * certificate naming a configured peer; on a plaintext link, its first hand-over message. Proven, it moves to
     * the peers' budget ({@code max-peer-connections}) and is handed to the engine (a plaintext one with its first
     * message, which the engine then reads).
     */
    private void accepted(SocketChannel ch, Predicate<String> knownPeer, Consumer<NettyPeerConnection> onAccepted) {
        InetSocketAddress remote = ch.remoteAddress();
        String remoteText = remote.getAddress().getHostAddress() + ":" + remote.getPort();
        ConnectionBudget.Slot slot = ch.attr(SLOT).get();
        NettyPeerConnection connection = new NettyPeerConnection(ch, "incoming:" + remoteText, false, settings.writeTimeout(),
                settings.compression());
        long timeoutMs = settings.handshakeTimeout().toMillis();
        if (settings.tls().isEmpty()) {
            ch.closeFuture().addListener(f -> {
                boolean unproven = budget.unauthenticated(slot);
                budget.release(slot);
                if (unproven && refusals.refused(PeerRefusal.FIRST_MESSAGE, slot.address())) {
                    LOG.warn("event=peer_refused stage=first_message remote={} identity=none reason=\"{}\"", remoteText,
                            connection.closeReasonOr("closed before its first message"));
                }
            });
            addProtocol(ch, connection);
            var timer = ch.eventLoop().schedule(() -> {
                if (budget.unauthenticated(slot)) {
                    budget.release(slot); // counted here, not again as it closes
                    if (refusals.refused(PeerRefusal.HANDSHAKE_TIMEOUT, slot.address())) {
                        LOG.warn("event=peer_refused stage=first_message remote={} identity=none reason=\"no message within {} ms "
                                + "(peer-handshake-timeout)\"", remoteText, timeoutMs);
                    }
                    ch.close();
                }
            }, timeoutMs, TimeUnit.MILLISECONDS);
            connection.holdFirstMessageUntil(() -> {
                timer.cancel(false);
                if (!promoted(slot, remoteText, PeerCredentials.UNAUTHENTICATED.describe())) {
                    return false;
                }
                connection.established(PeerCredentials.UNAUTHENTICATED);
                onAccepted.accept(connection);
                return true;
            });
            return;
        }
        ch.closeFuture().addListener(f -> budget.release(slot));
        PeerTls tls = settings.tls().get();
        SslHandler h = tls.serverHandler(ch.alloc(), remote.getAddress().getHostAddress(), remote.getPort());
        h.setHandshakeTimeoutMillis(timeoutMs);
        ch.pipeline().addLast("tls", h);
        addProtocol(ch, connection);
        h.handshakeFuture().addListener(f -> {
            String claimed = tls.claimedBy(remote.getAddress().getHostAddress(), remote.getPort());
            if (!f.isSuccess()) {
                PeerRefusal why = f.cause() instanceof SslHandshakeTimeoutException ? PeerRefusal.HANDSHAKE_TIMEOUT
                        : PeerRefusal.HANDSHAKE_FAILED;
                if (refusals.refused(why, slot.address())) {
                    LOG.warn("event=peer_refused stage=tls remote={} identity=none claimed_identity={} reason=\"{}\"", remoteText,
                            claimed, PeerTls.describeFailure(f.cause()));
                }
                ch.close();
                return;
            }
            List<String> names;
            try {
                names = CertNames.dnsNames(h.engine().getSession().getPeerCertificates());
            } catch (SSLPeerUnverifiedException e) {
                if (refusals.refused(PeerRefusal.HANDSHAKE_FAILED, slot.address())) {
                    LOG.warn("event=peer_refused stage=tls remote={} identity=none reason=\"no verified certificate\"", remoteText);
                }
                ch.close();
                return;
            }
            String identity = CertNames.describe(names);
            if (names.stream().noneMatch(knownPeer)) {
                if (refusals.refused(PeerRefusal.UNKNOWN_PEER, slot.address())) {
                    LOG.warn("event=peer_refused stage=identity remote={} identity=\"certificate names {}\" reason=\"the "
                            + "certificate names no configured peer\"", remoteText, identity);
                }
                ch.close();
                return;
            }
            if (!promoted(slot, remoteText, "certificate names " + identity)) {
                ch.close();
                return;
            }
            connection.established(PeerCredentials.certificate(names));
            LOG.info("event=peer_connected remote={} identity={} protocol={} cipher={}", remoteText, identity,
                    h.engine().getSession().getProtocol(), h.engine().getSession().getCipherSuite());
            onAccepted.accept(connection);
        });
    }

    /** A connection that proved a peer takes a peer's place; false (logged, counted) when they are all taken. */
    private boolean promoted(ConnectionBudget.Slot slot, String remoteText, String identity) {
        PeerRefusal over = budget.promote(slot);
        if (over == null) {
            return true;
        }
        if (refusals.refused(over, slot.address())) {
            LOG.warn("event=peer_connection_refused remote={} identity=\"{}\" limit=max-peer-connections reason=\"{} peer "
                    + "connections are open already (max-peer-connections)\"", remoteText, identity, budget.maxPeers());
        }
        return false;
    }

    /** The place a connection took in the budget as it was accepted ({@link Gatekeeper}). */
    private static final AttributeKey<ConnectionBudget.Slot> SLOT = AttributeKey.valueOf(PeerTransport.class, "budget-slot");

    /**
     * The listening channel's handler, before Netty's acceptor: a new connection takes an unauthenticated place
     * in the budget here, or is closed on the spot, before it is registered with an event loop or given a
     * pipeline (a flood of connections costs an accept and a close each, nothing more).
     */
    private final class Gatekeeper extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            if (!(child.remoteAddress() instanceof InetSocketAddress remote)) {
                child.unsafe().closeForcibly(); // reset before it could be looked at: nothing to admit
                return;
            }
            ConnectionBudget.Slot slot = budget.slot(remote.getAddress());
            PeerRefusal over = budget.enter(slot);
            if (over != null) {
                refuseAtOnce(child, slot, remote.getAddress().getHostAddress() + ":" + remote.getPort(), over);
                return;
            }
            child.attr(SLOT).set(slot);
            ctx.fireChannelRead(child);
        }
    }

    /**
     * Closes a connection the unauthenticated budget has no place for (not yet registered with an event loop), with
     * a reset (SO_LINGER 0): nothing was said on it, and the kernel keeps no TIME_WAIT state for it.
     */
    private void refuseAtOnce(Channel ch, ConnectionBudget.Slot slot, String remoteText, PeerRefusal over) {
        if (refusals.refused(over, slot.address())) {
            String reason = over == PeerRefusal.HANDSHAKES_PER_ADDRESS
                    ? budget.maxPerAddress() + " connections from " + slot.address() + " are still unauthenticated "
                            + "(max-peer-handshakes-per-address)"
                    : budget.maxHandshakes() + " connections are still unauthenticated (max-peer-handshakes)";
            LOG.warn("event=peer_connection_refused remote={} limit={} reason=\"{}\"", remoteText,
                    over == PeerRefusal.HANDSHAKES_PER_ADDRESS ? LIMIT_PER_ADDRESS : LIMIT_HANDSHAKES, reason);
        }
        try {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException e) {
            // closed by the other end already: the close below is all that is left to do
        }
        ch.unsafe().closeForcibly();
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
        refusals.close();
        var accepting = acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        accepting.syncUninterruptibly();
    }
}
