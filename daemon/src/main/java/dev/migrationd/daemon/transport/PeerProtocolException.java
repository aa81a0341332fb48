package dev.migrationd.daemon.transport;

/** A peer sent something the hand-over protocol does not allow; the connection is closed. */
public final class PeerProtocolException extends Exception {
    public PeerProtocolException(String message) {
        super(message);
    }
}
