package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.HandoverMessage.Resolution;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Both ends of resolving a migration whose Go was sent but whose Running was not heard. The source
 * ({@link #resolve}) reconnects to the destination, retrying every {@link HandoverSettings#inDoubtRetry()},
 * and asks about the migration id; the destination ({@link #answer}) answers from its live migration or
 * its journal. Each runs on the calling thread: the source's migration (or recovery) thread, the
 * destination's connection thread.
 */
public final class InDoubtResolver {

    private static final Logger LOG = LoggerFactory.getLogger(InDoubtResolver.class);

    private InDoubtResolver() {
    }

    /**
     * The source's question, asked until the destination answers. Empty when the engine closes first (the
     * journal still says COMMITTING: recovery asks again at the next start).
     */
    public static Optional<Resolution> resolve(HandoverContext engine, String id, String peer) {
        HandoverSettings cfg = engine.settings();
        for (int attempt = 1; !engine.closing(); attempt++) {
            try (PeerConnection c = cfg.peers().connect(peer)) {
                c.send(new HandoverMessage.Query(id));
                PeerConnection.Inbound in = c.receive(cfg.handshakeTimeout());
                if (in instanceof PeerConnection.Message m && m.message() instanceof HandoverMessage.QueryAnswer a
                        && a.migrationId().equals(id)) {
                    LOG.info("event=in_doubt_resolved migration={} peer={} answer={} attempt={}", id, peer, a.resolution(), attempt);
                    return Optional.of(a.resolution());
                }
                if (in instanceof PeerConnection.StreamData d) {
                    d.release();
                }
                LOG.warn("event=in_doubt_bad_answer migration={} peer={} attempt={}", id, peer, attempt);
            } catch (IOException | TimeoutException | EngineException e) {
                LOG.warn("event=in_doubt_retry migration={} peer={} attempt={} error=\"{}\"", id, peer, attempt,
                        MigrationAbort.describe(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            }
            LockSupport.parkNanos(cfg.inDoubtRetry().toNanos());
        }
        return Optional.empty();
    }

    /**
     * The destination's answer to a Query about {@code id}: a live incoming migration is waited for (at most
     * {@code wait}) until it knows whether it committed, so the answer never contradicts a Go still in its
     * connection's queue; otherwise the journal's last destination entry decides.
     */
    public static Resolution answer(String id, Optional<IncomingMigration> live, Journal journal, Duration wait) {
        if (live.isPresent()) {
            try {
                return live.get().decided().get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // fall through to the journal: still ACCEPTED means not committed yet, and it cannot commit
                // without the source, which is the one asking
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Optional<Journal.State> s = journal.lastState(Journal.Role.DESTINATION, id);
        if (s.isEmpty()) {
            return Resolution.UNKNOWN;
        }
        return s.get() == Journal.State.COMMITTED || s.get() == Journal.State.DONE
                ? Resolution.COMMITTED : Resolution.NOT_COMMITTED;
    }
}
