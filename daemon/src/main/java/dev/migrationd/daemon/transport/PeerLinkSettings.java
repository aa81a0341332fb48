package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.tls.PeerTls;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How peer connections are made and bounded, each a daemon setting of the same name.
 *
 * <p>An accepted connection is first <em>unauthenticated</em>: it has not yet proven to be a configured peer
 * (with TLS, until its handshake is done and its certificate names a configured peer; on a plaintext link,
 * until its first hand-over message). Those draw from a small budget of their own, bounded per remote address
 * and in total, and each has {@code handshakeTimeout} to prove itself; only proven peers count against
 * {@code maxConnections}. So connections from anyone who can reach the port never keep a real peer out of
 * {@code maxConnections}; at worst they fill the handshake budget, one address at most its per-address share.
 *
 * @param tls                     mutual TLS ({@code --tls-ca/--tls-cert/--tls-key}); empty only with
 *                                {@code --insecure-peer-link}
 * @param maxConnections          {@code max-peer-connections}: connections of proven peers open at once; more
 *                                are closed when they prove themselves
 * @param maxHandshakes           {@code max-peer-handshakes}: unauthenticated connections open at once, all
 *                                addresses together; more are closed as they arrive
 * @param maxHandshakesPerAddress {@code max-peer-handshakes-per-address}: unauthenticated connections open at
 *                                once from one remote address (an IPv6 address counts by its /64 prefix)
 * @param handshakeTimeout        {@code peer-handshake-timeout}: the TLS handshake of a connection, in and out;
 *                                on a plaintext link, an accepted connection's wait for its first message
 * @param writeTimeout            {@code peer-write-timeout}: how long a write may wait while the other side
 *                                reads nothing; then the connection fails (a source whose destination stopped
 *                                reading resumes its guest instead of staying paused)
 * @param compression             {@code compression}: which codecs the stream may be compressed with
 *                                ({@link CompressionMode})
 */
public record PeerLinkSettings(Optional<PeerTls> tls, int maxConnections, int maxHandshakes, int maxHandshakesPerAddress,
                               Duration handshakeTimeout, Duration writeTimeout, CompressionMode compression) {

    public static final int DEFAULT_MAX_CONNECTIONS = 64;
    /**
     * Unauthenticated connections at once: enough for every peer of a large cluster to (re)connect at the same
     * moment, small enough that their buffers (a TLS engine and at most one partial record or envelope each)
     * stay a few MiB.
     */
    public static final int DEFAULT_MAX_HANDSHAKES = 128;
    /** Unauthenticated connections from one address: a peer makes one or two at a time (a migration, a query). */
    public static final int DEFAULT_MAX_HANDSHAKES_PER_ADDRESS = 8;
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(30);
    public static final CompressionMode DEFAULT_COMPRESSION = CompressionMode.AUTO;

    /** Plaintext with the default bounds: for tests of the transport itself. */
    public static final PeerLinkSettings PLAINTEXT = new PeerLinkSettings(Optional.empty(), DEFAULT_MAX_CONNECTIONS,
            DEFAULT_MAX_HANDSHAKES, DEFAULT_MAX_HANDSHAKES_PER_ADDRESS, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
            DEFAULT_COMPRESSION);

    public PeerLinkSettings {
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(compression, "compression");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(writeTimeout, "writeTimeout");
        if (maxConnections < 1) {
            throw new IllegalArgumentException("max-peer-connections must be at least 1");
        }
        if (maxHandshakes < 1 || maxHandshakesPerAddress < 1) {
            throw new IllegalArgumentException("max-peer-handshakes and max-peer-handshakes-per-address must be at least 1");
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero() || writeTimeout.isNegative() || writeTimeout.isZero()) {
            throw new IllegalArgumentException("peer-handshake-timeout and peer-write-timeout must be positive");
        }
    }

    public PeerLinkSettings withTls(PeerTls t) {
        return new PeerLinkSettings(Optional.of(t), maxConnections, maxHandshakes, maxHandshakesPerAddress, handshakeTimeout,
                writeTimeout, compression);
    }

    public PeerLinkSettings withCompression(CompressionMode mode) {
        return new PeerLinkSettings(tls, maxConnections, maxHandshakes, maxHandshakesPerAddress, handshakeTimeout,
                writeTimeout, mode);
    }
}
