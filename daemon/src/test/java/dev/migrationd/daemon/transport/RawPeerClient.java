package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A peer as an attacker or a broken daemon would be one: real sockets, optionally TLS with whatever
 * certificate the test gives it, the project's framing, and nothing of the engine. It sends what the test
 * tells it (messages, raw bytes) and records what comes back and how the connection ended.
 *
 * <p>Threading: the event loop fills {@link #received}; the test thread reads it. {@code autoRead} can be
 * turned off to play a peer that stops reading.
 */
final class RawPeerClient implements AutoCloseable {

    /** What the connection brought: a message, or the end (with its cause, if any). */
    sealed interface Event {
    }

    record Got(HandoverMessage message) implements Event {
    }

    record Ended(Throwable cause) implements Event {
    }

    final Channel channel;
    final LinkedBlockingQueue<Event> received = new LinkedBlockingQueue<>();

    private RawPeerClient(Channel channel) {
        this.channel = channel;
    }

    /** Connects (TLS with {@code ssl} unless null; the SNI name is {@code serverName}). Does not wait for the handshake. */
    static RawPeerClient connect(EventLoopGroup group, InetSocketAddress address, SslContext ssl, String serverName, boolean read)
            throws Exception {
        RawPeerClient[] made = new RawPeerClient[1];
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.config().setAutoRead(read);
                        RawPeerClient client = new RawPeerClient(c);
                        made[0] = client;
                        if (ssl != null) {
                            c.pipeline().addLast("tls", ssl.newHandler(c.alloc(), serverName, address.getPort()));
                        }
                        c.pipeline().addLast(new PeerFrameDecoder()).addLast(PeerFrameEncoder.INSTANCE)
                                .addLast(new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof PeerFrame.Envelope env) {
                                            try {
                                                client.received.add(new Got(PeerMessages.parse(env.payload().nioBuffer())));
                                            } catch (PeerProtocolException e) {
                                                client.received.add(new Ended(e));
                                            } finally {
                                                env.release();
                                            }
                                        } else {
                                            io.netty.util.ReferenceCountUtil.release(msg);
                                        }
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        client.received.add(new Ended(cause));
                                        ctx.close();
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) {
                                        client.received.add(new Ended(null));
                                    }
                                });
                    }
                }).connect(address).syncUninterruptibly().channel();
        return made[0];
    }

    /** Whether the TLS handshake completed from this side, within {@code timeout} (true on plaintext). */
    boolean handshake(Duration timeout) throws InterruptedException {
        SslHandler h = channel.pipeline().get(SslHandler.class);
        if (h == null) {
            return true;
        }
        return h.handshakeFuture().await(timeout.toMillis()) && h.handshakeFuture().isSuccess();
    }

    void send(HandoverMessage m) {
        byte[] bytes = PeerMessages.toEnvelope(m).toByteArray();
        channel.writeAndFlush(new PeerFrame.Envelope(Unpooled.wrappedBuffer(bytes))).syncUninterruptibly();
    }

    /** Writes raw bytes (a frame, or a piece of one) and flushes. */
    void sendRaw(byte[] bytes) {
        ByteBuf b = Unpooled.wrappedBuffer(bytes);
        channel.writeAndFlush(b).syncUninterruptibly();
    }

    /** The next event within {@code timeout}, or null. */
    Event next(Duration timeout) throws InterruptedException {
        return received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Waits until the connection is closed (by either side), at most {@code timeout}; whether it was. */
    boolean awaitClosed(Duration timeout) throws InterruptedException {
        return channel.closeFuture().await(timeout.toMillis());
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }
}
