package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.fault.FailpointNames;
import dev.migrationd.daemon.engine.fault.Failpoints;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.HandoverMessage.Resolution;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Both ends of resolving a migration whose Go may have been sent but whose Running was not heard
 * (docs/handover.md §6). The source ({@link #resolve}) reconnects to the destination, retrying every
 * {@link HandoverSettings#inDoubtRetry()}, and acts only on a durable answer: COMMITTED or NOT_COMMITTED, or an
 * operator's decision. UNKNOWN keeps the guest paused and raises {@link Attention#IN_DOUBT_UNKNOWN}; PENDING
 * and no answer at all are asked again. The destination ({@link #answer}) answers only from what it has made
 * durable, or waits a bounded time for its live migration to decide and otherwise says PENDING — never a
 * guess. Each runs on the calling thread: the source's migration (or recovery) thread, the destination's
 * connection thread.
 */
public final class InDoubtResolver {

    private static final Logger LOG = LoggerFactory.getLogger(InDoubtResolver.class);

    private InDoubtResolver() {
    }

    /**
     * The source's side: asks the destination until it gives a durable answer or an operator decides, whichever
     * comes first. Empty when the engine closes first (the journal still says COMMITTING: the next start asks
     * again).
     *
     * @param operatorNeeded called once, on this thread, with a line for the migration's phase, when the
     *                       destination answers UNKNOWN
     */
    public static Optional<InDoubtCase.Verdict> resolve(HandoverContext engine, InDoubtCase c, Consumer<String> operatorNeeded)
            throws InterruptedException {
        String id = c.info().id();
        String peer = c.info().peer();
        try {
            for (int attempt = 1; !engine.closing(); attempt++) {
                if (c.verdict().isPresent()) {
                    return c.verdict();
                }
                Optional<Resolution> answer = askOnce(engine, id, peer, attempt);
                if (answer.isPresent()) {
                    switch (answer.get()) {
                        case COMMITTED, NOT_COMMITTED -> {
                            return Optional.of(c.decide(new InDoubtCase.Verdict(answer.get(), InDoubtCase.BY_DESTINATION)));
                        }
                        case UNKNOWN -> {
                            if (c.needOperator()) {
                                engine.attention(c.info(), Attention.IN_DOUBT_UNKNOWN, true);
                                LOG.error("event=in_doubt_operator_needed migration={} domain={} peer={} answer=UNKNOWN guest=paused action=\"the destination has no record of this migration; check where the guest runs, then migrationctl resolve {} --resume-source|--confirm-destination\"",
                                        id, c.info().domain(), peer, id);
                                operatorNeeded.accept("the destination (" + peer + ") has no record of this migration: the guest stays"
                                        + " paused here until an operator runs migrationctl resolve " + id
                                        + " --resume-source or --confirm-destination");
                            }
                        }
                        case PENDING -> {
                            // the destination is deciding, or its decision is not durable yet
                        }
                    }
                }
                Optional<InDoubtCase.Verdict> v = c.await(engine.settings().inDoubtRetry());
                if (v.isPresent()) {
                    return v;
                }
            }
            return c.verdict();
        } finally {
            if (c.operatorNeeded()) {
                engine.attention(c.info(), Attention.IN_DOUBT_UNKNOWN, false);
            }
        }
    }

    /**
     * Asks the destination once on a new connection: its answer, or empty when it cannot be reached or
     * answers something else (logged).
     */
    public static Optional<Resolution> askOnce(HandoverContext engine, String id, String peer, int attempt) {
        HandoverSettings cfg = engine.settings();
        try (PeerConnection c = cfg.peers().connect(peer)) {
            Failpoints.hit(FailpointNames.SOURCE_BEFORE_QUERY);
            c.send(new HandoverMessage.Query(id));
            PeerConnection.Inbound in = c.receive(cfg.handshakeTimeout());
            if (in instanceof PeerConnection.Message m && m.message() instanceof HandoverMessage.QueryAnswer a
                    && a.migrationId().equals(id)) {
                LOG.info("event=in_doubt_answer migration={} peer={} answer={} attempt={}", id, peer, a.resolution(), attempt);
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
        }
        return Optional.empty();
    }

    /**
     * The destination's answer to a Query about {@code id}, from what it has made durable:
     * <ul>
     *   <li>{@code undecided} (this side cannot tell whether it committed): UNKNOWN;</li>
     *   <li>a migration still running here: what it decides within {@code wait} (its decision is made known
     *       only once durable), or PENDING;</li>
     *   <li>one that ended here and whose decision was made known: that decision;</li>
     *   <li>otherwise the journal's last destination state: COMMITTED or DONE → COMMITTED; FAILED or CANCELLED
     *       (written only once the copy was destroyed) → NOT_COMMITTED; ACCEPTED (an end not durable yet) →
     *       PENDING; nothing → UNKNOWN.</li>
     * </ul>
     */
    public static Resolution answer(Optional<IncomingMigration> run, Optional<Journal.State> durable, boolean undecided,
                                    Duration wait) {
        if (undecided) {
            return Resolution.UNKNOWN;
        }
        if (run.isPresent()) {
            IncomingMigration r = run.get();
            if (!r.result().isDone()) {
                try {
                    return r.decided().get(wait.toMillis(), TimeUnit.MILLISECONDS);
                } catch (TimeoutException | ExecutionException e) {
                    return Resolution.PENDING;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return Resolution.PENDING;
                }
            }
            if (r.decided().isDone()) {
                return r.decided().join();
            }
        }
        if (durable.isEmpty()) {
            return Resolution.UNKNOWN;
        }
        return switch (durable.get()) {
            case COMMITTED, DONE -> Resolution.COMMITTED;
            case FAILED, CANCELLED, ABORTED -> Resolution.NOT_COMMITTED;
            default -> Resolution.PENDING;
        };
    }
}
