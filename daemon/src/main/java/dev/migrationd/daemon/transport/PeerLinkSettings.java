package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.tls.PeerTls;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How peer connections are made and bounded, each a daemon setting of the same name.
 *
 * @param tls                mutual TLS ({@code --tls-ca/--tls-cert/--tls-key}); empty only with
 *                           {@code --insecure-peer-link}
 * @param maxConnections     {@code max-peer-connections}: accepted peer connections open at once; more are
 *                           closed as they arrive
 * @param handshakeTimeout   {@code peer-handshake-timeout}: the TLS handshake of a connection, in and out
 * @param writeTimeout       {@code peer-write-timeout}: how long a write may wait while the other side reads
 *                           nothing; then the connection fails (a source whose destination stopped reading
 *                           resumes its guest instead of staying paused)
 * @param compression        {@code compression}: which codecs the stream may be compressed with ({@link CompressionMode})
 */
public record PeerLinkSettings(Optional<PeerTls> tls, int maxConnections, Duration handshakeTimeout, Duration writeTimeout,
                               CompressionMode compression) {

    public static final int DEFAULT_MAX_CONNECTIONS = 64;
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(30);
    public static final CompressionMode DEFAULT_COMPRESSION = CompressionMode.AUTO;

    /** Plaintext with the default bounds: for tests of the transport itself. */
    public static final PeerLinkSettings PLAINTEXT = new PeerLinkSettings(Optional.empty(), DEFAULT_MAX_CONNECTIONS,
            DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_WRITE_TIMEOUT, DEFAULT_COMPRESSION);

    public PeerLinkSettings(Optional<PeerTls> tls, int maxConnections, Duration handshakeTimeout, Duration writeTimeout) {
        this(tls, maxConnections, handshakeTimeout, writeTimeout, DEFAULT_COMPRESSION);
    }

    public PeerLinkSettings {
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(compression, "compression");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(writeTimeout, "writeTimeout");
        if (maxConnections < 1) {
            throw new IllegalArgumentException("max-peer-connections must be at least 1");
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero() || writeTimeout.isNegative() || writeTimeout.isZero()) {
            throw new IllegalArgumentException("peer-handshake-timeout and peer-write-timeout must be positive");
        }
    }

    public PeerLinkSettings withTls(PeerTls t) {
        return new PeerLinkSettings(Optional.of(t), maxConnections, handshakeTimeout, writeTimeout, compression);
    }

    public PeerLinkSettings withBounds(int connections, Duration handshake, Duration write) {
        return new PeerLinkSettings(tls, connections, handshake, write, compression);
    }

    public PeerLinkSettings withCompression(CompressionMode mode) {
        return new PeerLinkSettings(tls, maxConnections, handshakeTimeout, writeTimeout, mode);
    }
}
