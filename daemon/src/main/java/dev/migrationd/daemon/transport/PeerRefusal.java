package dev.migrationd.daemon.transport;

/**
 * Why the transport closed an incoming connection before the engine had it, as counted in the metric
 * {@code migrationd_peer_connections_refused_total{reason=...}} (the label is {@link #label()}).
 */
public enum PeerRefusal {
    /** More unauthenticated connections from its address than {@code max-peer-handshakes-per-address}. */
    HANDSHAKES_PER_ADDRESS("handshakes_per_address"),
    /** More unauthenticated connections than {@code max-peer-handshakes}. */
    HANDSHAKES("handshakes"),
    /** A proven peer, but {@code max-peer-connections} are open already. */
    PEER_CONNECTIONS("peer_connections"),
    /** No TLS handshake, or on a plaintext link no first message, within {@code peer-handshake-timeout}. */
    HANDSHAKE_TIMEOUT("handshake_timeout"),
    /** The TLS handshake failed: no certificate, an unknown CA, an expired certificate, not TLS at all... */
    HANDSHAKE_FAILED("handshake_failed"),
    /** A valid certificate that names no configured peer. */
    UNKNOWN_PEER("unknown_peer"),
    /**
     * On a plaintext link: closed, or closed for breaking the protocol (garbage, stream data first), before its
     * first hand-over message.
     */
    FIRST_MESSAGE("first_message");

    private final String label;

    PeerRefusal(String label) {
        this.label = label;
    }

    /** The metric label and the name in the refusal summary's log line. */
    public String label() {
        return label;
    }
}
