package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.EngineException;
import io.netty.channel.Channel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Outgoing peer connections by name: the daemon config's peer map (name → host:port). The map may be
 * replaced at run time (config reload) with {@link #setPeers}. Thread-safe; {@link #connect} blocks its
 * caller (a migration's virtual thread) until the TCP connection is up.
 */
public final class NettyPeerConnector implements PeerConnector {

    private final PeerTransport transport;
    private volatile Map<String, InetSocketAddress> peers;

    public NettyPeerConnector(PeerTransport transport, Map<String, InetSocketAddress> peers) {
        this.transport = transport;
        this.peers = Map.copyOf(peers);
    }

    public void setPeers(Map<String, InetSocketAddress> newPeers) {
        this.peers = Map.copyOf(newPeers);
    }

    @Override
    public boolean knows(String peer) {
        return peers.containsKey(peer);
    }

    @Override
    public PeerConnection connect(String peer) throws IOException, EngineException.UnknownPeerException {
        InetSocketAddress address = peers.get(peer);
        if (address == null) {
            throw new EngineException.UnknownPeerException(peer);
        }
        AtomicReference<NettyPeerConnection> made = new AtomicReference<>();
        Channel ch = PeerTransport.connect(transport.bootstrap(peer, made::set),
                address.isUnresolved() ? new InetSocketAddress(address.getHostString(), address.getPort()) : address);
        NettyPeerConnection c = made.get();
        if (c == null) {
            ch.close();
            throw new IOException("connection to " + peer + " was not initialised");
        }
        return c;
    }

    /** Parses {@code host:port} (IPv6 as {@code [addr]:port}). */
    public static InetSocketAddress parseAddress(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0 || colon == hostPort.length() - 1) {
            throw new IllegalArgumentException("peer address must be host:port, not '" + hostPort + "'");
        }
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("peer port is not a number in '" + hostPort + "'");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("peer port outside 1..65535 in '" + hostPort + "'");
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

}
