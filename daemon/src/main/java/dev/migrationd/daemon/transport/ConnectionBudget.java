package dev.migrationd.daemon.transport;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * The two budgets of incoming peer connections (see {@link PeerLinkSettings}): unauthenticated ones, bounded per
 * remote address and in total, and proven peers, bounded by {@code max-peer-connections}. A connection takes a
 * {@link Slot} when it is accepted ({@link #enter}), moves it to the peers' budget when it proves itself
 * ({@link #promote}) and gives it back when it closes ({@link #release}); a refused step leaves nothing held.
 *
 * <p>An IPv4 address counts as itself, an IPv6 address by its /64 prefix (one host commonly has a whole /64 to
 * pick addresses from); an IPv4-mapped IPv6 address as the IPv4 address.
 *
 * <p>Threading: called from the event loops (accept, handshake done, close); every method holds this object's
 * lock for a few map operations. The per-address map holds only addresses with a connection open, so its size
 * is bounded by {@code maxHandshakes}.
 */
final class ConnectionBudget {

    /** One connection's place: unauthenticated, then a peer, then released. Guarded by the budget's lock. */
    static final class Slot {
        private final String address;
        private Stage stage = Stage.NONE;

        private Slot(String address) {
            this.address = address;
        }

        /** The remote address as it is counted (an IPv6 address as its /64 prefix). */
        String address() {
            return address;
        }
    }

    private enum Stage { NONE, HANDSHAKE, PEER, RELEASED }

    private final int maxPeers;
    private final int maxHandshakes;
    private final int maxPerAddress;
    // guarded by this
    private final Map<String, Integer> handshakesByAddress = new HashMap<>();
    private int handshakes;
    private int peers;

    ConnectionBudget(int maxPeers, int maxHandshakes, int maxPerAddress) {
        this.maxPeers = maxPeers;
        this.maxHandshakes = maxHandshakes;
        this.maxPerAddress = maxPerAddress;
    }

    /** A slot for a connection from {@code remote}, holding nothing yet. */
    Slot slot(InetAddress remote) {
        return new Slot(addressKey(remote));
    }

    static String addressKey(InetAddress a) {
        if (a instanceof Inet6Address v6) {
            byte[] b = v6.getAddress();
            if (isV4Mapped(b)) {
                return (b[12] & 0xff) + "." + (b[13] & 0xff) + "." + (b[14] & 0xff) + "." + (b[15] & 0xff);
            }
            return HexFormat.of().formatHex(b, 0, 8) + "::/64";
        }
        return a instanceof Inet4Address ? a.getHostAddress() : a.toString();
    }

    /** ::ffff:a.b.c.d, which a dual-stack socket may report for an IPv4 peer. */
    private static boolean isV4Mapped(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    /** Takes an unauthenticated place for a new connection; null, or why not (nothing is held then). */
    synchronized PeerRefusal enter(Slot s) {
        if (s.stage != Stage.NONE) {
            throw new IllegalStateException("slot already used");
        }
        int fromThere = handshakesByAddress.getOrDefault(s.address, 0);
        if (fromThere >= maxPerAddress) {
            return PeerRefusal.HANDSHAKES_PER_ADDRESS;
        }
        if (handshakes >= maxHandshakes) {
            return PeerRefusal.HANDSHAKES;
        }
        handshakesByAddress.put(s.address, fromThere + 1);
        handshakes++;
        s.stage = Stage.HANDSHAKE;
        return null;
    }

    /**
     * The connection has proven a configured peer: it leaves the unauthenticated budget and takes a peer's place;
     * null, or why not (then it holds nothing, and must be closed).
     */
    synchronized PeerRefusal promote(Slot s) {
        if (s.stage != Stage.HANDSHAKE) {
            throw new IllegalStateException("promote from " + s.stage);
        }
        leaveHandshake(s);
        if (peers >= maxPeers) {
            s.stage = Stage.RELEASED;
            return PeerRefusal.PEER_CONNECTIONS;
        }
        peers++;
        s.stage = Stage.PEER;
        return null;
    }

    /** Whether the connection is still unauthenticated (a timer's question: has it proven itself since?). */
    synchronized boolean unauthenticated(Slot s) {
        return s.stage == Stage.HANDSHAKE;
    }

    /** Gives back whatever the slot holds; again is a no-op. */
    synchronized void release(Slot s) {
        switch (s.stage) {
            case HANDSHAKE -> leaveHandshake(s);
            case PEER -> peers--;
            case NONE, RELEASED -> { }
        }
        s.stage = Stage.RELEASED;
    }

    private void leaveHandshake(Slot s) {
        handshakes--;
        handshakesByAddress.computeIfPresent(s.address, (k, n) -> n == 1 ? null : n - 1);
    }

    /** Unauthenticated connections open now. */
    synchronized int handshakes() {
        return handshakes;
    }

    /** Unauthenticated connections open now from the address of {@code remote} (its /64 for IPv6). */
    synchronized int handshakesFrom(InetAddress remote) {
        return handshakesByAddress.getOrDefault(addressKey(remote), 0);
    }

    /** Proven peers' connections open now. */
    synchronized int peers() {
        return peers;
    }

    int maxPeers() {
        return maxPeers;
    }

    int maxHandshakes() {
        return maxHandshakes;
    }

    int maxPerAddress() {
        return maxPerAddress;
    }
}
