package dev.migrationd.daemon.engine.peer;

import java.util.List;

/**
 * What the transport proved about the other end of a connection before the engine saw it: on a TLS
 * link, the subjectAltName DNS names of the peer's verified certificate; on a plaintext link (only with
 * {@code --insecure-peer-link}), nothing, and the engine has only the name the peer claims.
 *
 * @param authenticated whether a certificate chain to a trusted CA was verified
 * @param names         the verified certificate's DNS names (empty when not authenticated)
 */
public record PeerCredentials(boolean authenticated, List<String> names) {

    /** A plaintext link: no proof of anything. */
    public static final PeerCredentials UNAUTHENTICATED = new PeerCredentials(false, List.of());

    public PeerCredentials {
        names = List.copyOf(names);
    }

    /** A verified certificate naming {@code names}. */
    public static PeerCredentials certificate(List<String> names) {
        return new PeerCredentials(true, names);
    }

    /**
     * Whether the other end may speak as {@code peer}: on a TLS link only when its certificate names it;
     * on a plaintext link any claim stands (that is what insecure means).
     */
    public boolean mayClaim(String peer) {
        return !authenticated || names.contains(peer);
    }

    /** For logs and refusals. */
    public String describe() {
        return authenticated ? "certificate names " + (names.isEmpty() ? "nothing" : String.join(",", names))
                : "unauthenticated (insecure peer link)";
    }
}
