package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverSettings;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.run.IncomingLimits;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.hypervisor.Hypervisor;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
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
 * @param abortWait         how long a source that stops before the commit point waits for the destination to
 *                          confirm that its copy is gone
 * @param closeWait         how long {@link MigrationEngine#close()} waits for running migrations to end
 * @param maxIncomingBytes  admission limit: total guest memory this daemon accepts in concurrent incoming
 *                          migrations
 * @param historySize       finished migrations kept in {@link MigrationEngine#list()}
 * @param journalRetention  how long the journal keeps a migration that ended: a destination answers a
 *                          source's in-doubt question from it for that long, so it must outlast any source's
 *                          doubt (at least {@link #MIN_JOURNAL_RETENTION})
 * @param incomingLimits    the other limits on incoming migrations (count, offer size, deadlines, minimum rate)
 * @param saveDirs          directories save and restore may use (empty: any directory outside the state directory)
 */
public record EngineConfig(String localPeerName, Hypervisor hypervisor, Path stateDir, PeerConnector peers,
                           Clock clock, Ticker ticker, Duration handshakeTimeout, Duration idleTimeout,
                           Duration inDoubtRetry, Duration abortWait, Duration closeWait, long maxIncomingBytes,
                           int historySize, Duration journalRetention,
                           IncomingLimits incomingLimits, List<Path> saveDirs)
        implements HandoverSettings {

    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_IN_DOUBT_RETRY = Duration.ofSeconds(2);
    public static final Duration DEFAULT_ABORT_WAIT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_CLOSE_WAIT = Duration.ofSeconds(30);
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
        Objects.requireNonNull(abortWait, "abortWait");
        Objects.requireNonNull(closeWait, "closeWait");
        for (Duration d : new Duration[] {handshakeTimeout, idleTimeout, inDoubtRetry, abortWait, closeWait}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive, not " + d);
            }
        }
        Objects.requireNonNull(incomingLimits, "incomingLimits");
        saveDirs = List.copyOf(saveDirs);
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
                DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_IN_DOUBT_RETRY, DEFAULT_ABORT_WAIT,
                DEFAULT_CLOSE_WAIT, DEFAULT_MAX_INCOMING_BYTES,
                DEFAULT_HISTORY_SIZE, DEFAULT_JOURNAL_RETENTION, IncomingLimits.DEFAULTS, List.of());
    }

    public EngineConfig withTimeouts(Duration handshake, Duration idle, Duration inDoubt) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshake, idle, inDoubt,
                abortWait, closeWait, maxIncomingBytes, historySize, journalRetention, incomingLimits, saveDirs);
    }

    public EngineConfig withMaxIncomingBytes(long bytes) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout,
                idleTimeout, inDoubtRetry, abortWait, closeWait, bytes, historySize, journalRetention, incomingLimits, saveDirs);
    }

    public EngineConfig withTicker(Ticker t) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, t, handshakeTimeout, idleTimeout,
                inDoubtRetry, abortWait, closeWait, maxIncomingBytes, historySize, journalRetention, incomingLimits, saveDirs);
    }

    public EngineConfig withJournalRetention(Duration retention) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, abortWait, closeWait, maxIncomingBytes, historySize, retention, incomingLimits, saveDirs);
    }

    public EngineConfig withClock(Clock c) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, c, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, abortWait, closeWait, maxIncomingBytes, historySize, journalRetention, incomingLimits, saveDirs);
    }

    public EngineConfig withIncomingLimits(IncomingLimits limits) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, abortWait, closeWait, maxIncomingBytes, historySize, journalRetention, limits, saveDirs);
    }

    public EngineConfig withSaveDirs(List<Path> dirs) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, abortWait, closeWait, maxIncomingBytes, historySize, journalRetention, incomingLimits, dirs);
    }

    /** @param abort see {@link #abortWait()}; @param close see {@link #closeWait()} */
    public EngineConfig withWaits(Duration abort, Duration close) {
        return new EngineConfig(localPeerName, hypervisor, stateDir, peers, clock, ticker, handshakeTimeout, idleTimeout,
                inDoubtRetry, abort, close, maxIncomingBytes, historySize, journalRetention, incomingLimits, saveDirs);
    }
}
