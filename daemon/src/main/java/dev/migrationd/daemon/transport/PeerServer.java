package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.peer.PeerConnection;
import io.netty.channel.Channel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens for peer daemons ({@code --peer-listen}) and hands each accepted connection to the engine
 * ({@code MigrationEngine::acceptIncoming}), which reads its first message on a virtual thread of its
 * own. The handler is called on the event loop once the pipeline is set up, and must not block.
 */
public final class PeerServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PeerServer.class);

    private final Channel serverChannel;

    private PeerServer(Channel serverChannel) {
        this.serverChannel = serverChannel;
    }

    /**
     * Binds {@code address} (port 0 = any free port) and starts accepting.
     *
     * @param knownPeer whether a name is a configured peer; on a TLS link a connection whose certificate names none
     *                  is refused before the engine sees it
     */
    public static PeerServer start(PeerTransport transport, InetSocketAddress address, Predicate<String> knownPeer,
                                   Consumer<PeerConnection> onConnection) throws IOException {
        var future = transport.serverBootstrap(knownPeer, onConnection::accept).bind(address).awaitUninterruptibly();
        if (!future.isSuccess()) {
            Throwable c = future.cause();
            throw new IOException("cannot listen for peers on " + address + ": " + (c == null ? "unknown" : c.getMessage()), c);
        }
        LOG.info("event=peer_server_listening address={}", future.channel().localAddress());
        return new PeerServer(future.channel());
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
    }
}
