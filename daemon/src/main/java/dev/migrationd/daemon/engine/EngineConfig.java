package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverSettings;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.hypervisor.Hypervisor;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * What the engine needs from outside. One engine per daemon.
 *
 * @param localPeerName     this daemon's name as its peers know it (sent in offers)
 * @param hypervisor        the host's hypervisor (any backend; the engine imports no adapter)
 * @param stateDir          the daemon's state directory: the journal and the history live here
 * @param peers             outgoing connections by peer name
 * @param clock             wall clock for history timestamps
 * @param ticker            monotonic clock for durations and rates
 * @param handshakeTimeout  how long to wait for Accept/Reject, Received/Failed, Running
 * @param idleTimeout       how long a receiver waits for the next stream byte before failing
 * @param inDoubtRetry      delay between reconnect attempts while a migration is in doubt
 * @param maxIncomingBytes  admission limit: total guest memory this daemon accepts in concurrent incoming
 *                          migrations
 * @param historySize       finished migrations kept in {@link MigrationEngine#list()}
 * @param journalRetention  how long the journal keeps a migration that ended: a destination answers a
 *                          source's in-doubt question from it for that long, so it must outlast any source's
 *                          doubt (at least {@link #MIN_JOURNAL_RETENTION})
 */
public record EngineConfig(String localPeerName, Hypervisor hypervisor, Path stateDir, PeerConnector peers,
                           Clock clock, Ticker ticker, Duration handshakeTimeout, Duration idleTimeout,
                           Duration inDoubtRetry, long maxIncomingBytes, int historySize, Duration journalRetention)
        implements HandoverSettings {

    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_IN_DOUBT_RETRY = Duration.ofSeconds(2);
    /** Default admission limit: 1 TiB of incoming guest memory at once. */
    public static final long DEFAULT_MAX_INCOMING_BYTES = 1L << 40;
    public static final int DEFAULT_HISTORY_SIZE = 200;
    /** Default journal retention (a week: a source in doubt over a weekend is still answered). */
    public static final Duration DEFAULT_JOURNAL_RETENTION = Journal.DEFAULT_RETENTION;
    /** Shortest journal retention accepted. */
    public static final Duration MIN_JOURNAL_RETENTION = Duration.ofHours(1);

    public EngineConfig {
        Objects.requireNonNull(localPeerName, "localPeerName");
        Objects.requireNonNull(hypervisor, "hypervisor");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(peers, "peers");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(ticker, "ticker");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(inDoubtRetry, "inDoubtRetry");
        MigrationRequest.checkName("local peer name", localPeerName);
        if (maxIncomingBytes <= 0) {
            throw new IllegalArgumentException("maxIncomingBytes must be positive");
        }
        if (historySize < 1) {
            throw new IllegalArgumentException("historySize must be at least 1");
        }
        Objects.requireNonNull(journalRetention, "journalRetention");
        if (journalRetention.compareTo(MIN_JOURNAL_RETENTION) < 0) {
            throw new IllegalArgumentException("journal retention must be at least " + MIN_JOURNAL_RETENTION.toHours() + "h");
        }
    }

    /** A configuration with the default timeouts and limits. */
    public static EngineConfig of(String localPeerName, Hypervisor hypervisor, Path stateDir, PeerConnector peers) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, Clock.systemUTC(), Ticker.SYSTEM,
                DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_IN_DOUBT_RETRY, DEFAULT_MAX_INCOMING_BYTES,
                DEFAULT_HISTORY_SIZE, DEFAULT_JOURNAL_RETENTION);
    }

    public EngineConfig withTimeouts(Duration handshake, Duration idle, Duration inDoubt) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshake, idle, inDoubt,
                maxIncomingBytes, historySize, journalRetention);
    }

    public EngineConfig withMaxIncomingBytes(long bytes) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout,
                idleTimeout, inDoubtRetry, bytes, historySize, journalRetention);
    }

    public EngineConfig withTicker(Ticker t) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, t, handshakeTimeout, idleTimeout,
                inDoubtRetry, maxIncomingBytes, historySize, journalRetention);
    }

    public EngineConfig withJournalRetention(Duration retention) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, maxIncomingBytes, historySize, retention);
    }

    public EngineConfig withClock(Clock c) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, c, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, maxIncomingBytes, historySize, journalRetention);
    }
}
