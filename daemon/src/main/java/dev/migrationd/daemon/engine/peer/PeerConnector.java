package dev.migrationd.daemon.engine.peer;

import dev.migrationd.daemon.engine.run.EngineException;
import java.io.IOException;

/**
 * The engine's port to its peers: opens outgoing connections by peer name and knows which names are
 * configured. The transport implements it over Netty; incoming connections reach the engine through
 * {@link dev.migrationd.daemon.engine.MigrationEngine#acceptIncoming(PeerConnection)}.
 */
public interface PeerConnector {

    /** Whether {@code peer} is in this daemon's peer map (incoming offers from other names are rejected). */
    boolean knows(String peer);

    /** Whether the configuration lets {@code peer} do {@code what} here (deny by default: unknown peers may not). */
    boolean allows(String peer, PeerPermission what);

    /**
     * Connects to {@code peer}.
     *
     * @throws EngineException.UnknownPeerException when the name is not configured
     * @throws IOException when the connection fails
     */
    PeerConnection connect(String peer) throws IOException, EngineException.UnknownPeerException;
}
