package dev.migrationd.daemon.control;

import io.grpc.Attributes;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.AsciiString;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * gRPC's plaintext server negotiation, plus the kernel's credentials of the connecting process (SO_PEERCRED) as
 * the transport attribute {@link ControlAuthorizer#UNIX_PEER}, so that the authorizer knows the caller's uid.
 * gRPC has no public way to reach the Netty channel behind a call; this goes through its {@code Internal*}
 * negotiator API, which is how gRPC's own negotiators add attributes (a test checks that the uid arrives). A
 * connection whose credentials cannot be read is closed.
 *
 * <p>Threading: the handler runs on the connection's event loop.
 */
final class UnixPeerNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {

    private static final Logger LOG = LoggerFactory.getLogger(UnixPeerNegotiator.class);

    private final InternalProtocolNegotiator.ProtocolNegotiator plaintext = InternalProtocolNegotiators.serverPlaintext();

    @Override
    public AsciiString scheme() {
        return plaintext.scheme();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelHandler next = plaintext.newHandler(grpcHandler);
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                if (!(evt instanceof ProtocolNegotiationEvent event)) {
                    super.userEventTriggered(ctx, evt);
                    return;
                }
                ControlAuthorizer.UnixPeer peer;
                try {
                    if (!(ctx.channel() instanceof DomainSocketChannel ch)) {
                        throw new IOException("not a Unix socket: " + ctx.channel().getClass().getSimpleName());
                    }
                    PeerCredentials c = peerCredentials(ch);
                    peer = new ControlAuthorizer.UnixPeer(c.pid(), c.uid(), c.gids().length > 0 ? c.gids()[0] : -1);
                } catch (IOException e) {
                    LOG.atWarn().setMessage("event=control_peer_unknown").addKeyValue("error", e.getMessage()).log();
                    ctx.close();
                    return;
                }
                Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(event).toBuilder()
                        .set(ControlAuthorizer.UNIX_PEER, peer).build();
                ctx.pipeline().replace(this, null, next);
                // after replace, this context forwards to its replacement (Netty keeps the links for exactly this)
                ctx.fireUserEventTriggered(InternalProtocolNegotiationEvent.withAttributes(event, attrs));
            }
        };
    }

    private static PeerCredentials peerCredentials(DomainSocketChannel ch) throws IOException {
        if (ch instanceof io.netty.channel.epoll.EpollDomainSocketChannel e) {
            return e.peerCredentials();
        }
        throw new IOException("no peer credentials on " + ch.getClass().getSimpleName());
    }

    @Override
    public void close() {
        plaintext.close();
    }
}
