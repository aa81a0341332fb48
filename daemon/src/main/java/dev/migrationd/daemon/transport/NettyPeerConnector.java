package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.EngineException;
import io.netty.channel.Channel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import dev.migrationd.daemon.engine.peer.PeerCredentials;
import dev.migrationd.daemon.engine.peer.PeerPermission;
import dev.migrationd.daemon.tls.CertNames;
import dev.migrationd.daemon.tls.PeerTls;
import io.netty.handler.ssl.SslHandler;
import javax.net.ssl.SSLPeerUnverifiedException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Outgoing peer connections by name: the daemon config's peer map (name → host:port), and what each peer
 * may do here (deny by default). The maps may be replaced at run time (config reload) with
 * {@link #setPeers}. Thread-safe; {@link #connect} blocks its caller (a migration's virtual thread) until
 * the connection is up and, on a TLS link, its handshake done and the destination's certificate found to
 * name the peer it meant to reach.
 */
public final class NettyPeerConnector implements PeerConnector {

    private final PeerTransport transport;
    private volatile Map<String, InetSocketAddress> peers;
    private volatile Map<String, Set<PeerPermission>> allowed;

    /**
     * @param peers   peer name → address
     * @param allowed peer name → what it may do here; a peer missing from it may do nothing
     */
    public NettyPeerConnector(PeerTransport transport, Map<String, InetSocketAddress> peers,
                              Map<String, Set<PeerPermission>> allowed) {
        this.transport = transport;
        setPeers(peers, allowed);
    }

    public void setPeers(Map<String, InetSocketAddress> newPeers, Map<String, Set<PeerPermission>> newAllowed) {
        this.peers = Map.copyOf(newPeers);
        this.allowed = Map.copyOf(newAllowed);
    }

    @Override
    public boolean knows(String peer) {
        return peers.containsKey(peer);
    }

    @Override
    public boolean allows(String peer, PeerPermission what) {
        return peers.containsKey(peer) && allowed.getOrDefault(peer, Set.of()).contains(what);
    }

    @Override
    public PeerConnection connect(String peer) throws IOException, EngineException.UnknownPeerException {
        InetSocketAddress address = peers.get(peer);
        if (address == null) {
            throw new EngineException.UnknownPeerException(peer);
        }
        AtomicReference<NettyPeerConnection> made = new AtomicReference<>();
        Channel ch = PeerTransport.connect(transport.bootstrap(peer, address.getPort(), made::set),
                address.isUnresolved() ? new InetSocketAddress(address.getHostString(), address.getPort()) : address);
        NettyPeerConnection c = made.get();
        if (c == null) {
            ch.close();
            throw new IOException("connection to " + peer + " was not initialised");
        }
        SslHandler tls = ch.pipeline().get(SslHandler.class);
        if (tls != null) {
            c.established(PeerCredentials.certificate(verifyDestination(peer, address, ch, tls)));
        } else {
            c.established(PeerCredentials.UNAUTHENTICATED);
        }
        return c;
    }

    /**
     * Waits for the TLS handshake (bounded by the handshake timeout) and checks that the destination's
     * certificate names {@code peer}: a certificate from the right CA for another host is not the peer we
     * meant to reach. Returns the certificate's names.
     */
    private List<String> verifyDestination(String peer, InetSocketAddress address, Channel ch, SslHandler tls)
            throws IOException {
        var hs = tls.handshakeFuture();
        if (!hs.awaitUninterruptibly(transport.settings().handshakeTimeout().toMillis() + HANDSHAKE_GRACE_MILLIS)) {
            ch.close();
            throw new IOException("TLS handshake with " + peer + " at " + address + " did not finish in "
                    + transport.settings().handshakeTimeout().toMillis() + " ms");
        }
        if (!hs.isSuccess()) {
            ch.close();
            throw new IOException("TLS handshake with " + peer + " at " + address + " failed: "
                    + PeerTls.describeFailure(hs.cause()));
        }
        List<String> names;
        try {
            names = CertNames.dnsNames(tls.engine().getSession().getPeerCertificates());
        } catch (SSLPeerUnverifiedException e) {
            ch.close();
            throw new IOException("TLS with " + peer + " at " + address + ": the destination presented no verified certificate");
        }
        if (!names.contains(peer)) {
            ch.close();
            throw new IOException("the certificate of the destination at " + address + " names " + CertNames.describe(names)
                    + " (subjectAltName DNS), not " + peer + ": refusing to migrate to it");
        }
        return names;
    }

    /** Beyond the handler's own handshake timeout (which fails the future), before this side gives up waiting. */
    static final long HANDSHAKE_GRACE_MILLIS = 1_000;

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
