package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.run.IncomingLimits;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.hypervisor.Hypervisor;
import java.time.Duration;

/**
 * The settings both sides of a hand-over read: who this daemon is, where its peers are, which
 * hypervisor builds incoming domains, the clock, and how long each wait may last. The engine's
 * configuration implements it. Immutable.
 */
public interface HandoverSettings {

    /** This daemon's name as its peers know it (sent in offers). */
    String localPeerName();

    /** The host's hypervisor (the destination builds incoming domains with it). */
    Hypervisor hypervisor();

    /** Outgoing connections by peer name. */
    PeerConnector peers();

    /** Monotonic clock for durations and rates. */
    Ticker ticker();

    /** How long to wait for Accept/Reject, Received/Failed, Go, Running and a Query's answer. */
    Duration handshakeTimeout();

    /** How long a receiver waits for the next stream byte before failing. */
    Duration idleTimeout();

    /** Delay between reconnect attempts while a migration is in doubt. */
    Duration inDoubtRetry();

    /** The bounds of an incoming migration (deadline, minimum rate) and of its admission. */
    IncomingLimits incomingLimits();
    /** How long a source that stops before the commit point waits for the destination to confirm its copy is gone. */
    Duration abortWait();
}
