package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.InDoubtCase;
import dev.migrationd.daemon.engine.handover.InDoubtResolver;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.handover.Retry;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finishes, when the engine starts, what a previous run of the daemon left in the journal (docs/handover.md
 * §7). It acts only on what the journal proves and never on a record's absence alone, since a record can be
 * lost to a torn or damaged tail:
 * <ul>
 *   <li>destination, COMMITTED: unpause the guest (retried until it works), then DONE;</li>
 *   <li>destination, ACCEPTED (COMMITTED is not in the journal): destroy the paused partial domain, then
 *       FAILED — but a domain found <em>running</em> there was unpaused after a COMMITTED the journal lost,
 *       so it is left alone and the source is answered UNKNOWN ({@link Attention#UNDECIDED});</li>
 *   <li>source, STARTED (the engine had not paused the guest): disable log-dirty, leave the guest as it is,
 *       FAILED;</li>
 *   <li>source, PAUSING or COMMITTING (the engine paused the guest; Go may have been sent, and a COMMITTING
 *       may have been lost): in doubt — the domain is held, the guest stays paused, and the destination's
 *       durable answer or an operator decides, on a virtual thread ({@code recover-<id>}).</li>
 * </ul>
 * Every migration read back goes into the history.
 *
 * <p>Threading: {@link #recover} runs on the thread constructing the engine, before the engine admits
 * anything; in-doubt migrations and steps that keep failing continue on the {@code background} executor
 * (virtual threads), each owning its domain until it is done.
 */
final class Recovery {

    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

    private final Hypervisor hypervisor;
    private final MigrationRegistry registry;
    private final HandoverContext context;
    private final Executor background;

    Recovery(Hypervisor hypervisor, MigrationRegistry registry, HandoverContext context, Executor background) {
        this.hypervisor = hypervisor;
        this.registry = registry;
        this.context = context;
        this.background = background;
    }

    /** Recovers every migration the journal holds, in the order they first appeared. */
    void recover(List<Journal.Migration> migrations) {
        for (Journal.Migration m : migrations) {
            if (m.state().terminal()) {
                registry.remember(summaryOf(m, phaseOf(m.last())));
            } else if (m.role() == Journal.Role.DESTINATION) {
                destination(m);
            } else {
                source(m);
            }
        }
    }

    private void destination(Journal.Migration m) {
        MigrationInfo info = infoOf(m);
        Optional<Domain> domain = findOurs(m);
        if (m.state() == Journal.State.COMMITTED) {
            if (domain.isEmpty()) {
                LOG.error("event=recovery_committed_domain_missing migration={} domain={} action=\"the guest committed here is gone; the source is answered COMMITTED all the same\"",
                        m.id(), info.domain());
                finish(m, Journal.State.DONE, "recovered after restart: the committed domain was not found", new MigrationPhase.Done());
                return;
            }
            persist(m, info, Attention.UNPAUSE_FAILED, "unpause", () -> resumeIfPaused(domain.get(), m.id()),
                    Journal.State.DONE, "recovered after restart: guest unpaused", new MigrationPhase.Done());
            return;
        }
        // ACCEPTED: COMMITTED is not in the journal
        if (domain.isPresent() && stateOf(domain.get()) == DomainState.RUNNING) {
            // only COMMITTED (durable) leads to an unpause: the journal lost it. Destroying would lose the guest
            // if the source took Running for its cue; leave it and let an operator decide
            registry.undecided(m.id());
            context.attention(info, Attention.UNDECIDED, true);
            String why = "the domain runs here but the journal holds no COMMITTED for it: left alone; the source is answered UNKNOWN";
            LOG.error("event=operator_needed migration={} domain={} reason={} action=\"{}\"", m.id(), info.domain(),
                    Attention.UNDECIDED.tag(), why);
            registry.remember(summaryOf(m, new MigrationPhase.InDoubt(why)));
            return;
        }
        if (domain.isEmpty()) {
            finish(m, Journal.State.FAILED, "daemon restarted before Go: nothing left to destroy",
                    new MigrationPhase.Failed("daemon restarted before Go: nothing left to destroy"));
            return;
        }
        String why = "daemon restarted before Go: partial domain destroyed";
        persist(m, info, Attention.DESTROY_FAILED, "destroy_partial", () -> destroyIfPresent(m),
                Journal.State.FAILED, why, new MigrationPhase.Failed(why));
    }

    private void source(Journal.Migration m) {
        Optional<Domain> domain = findOurs(m);
        if (m.state() == Journal.State.STARTED) {
            domain.ifPresent(d -> {
                disableLogDirty(d, m.id());
                if (stateOf(d) == DomainState.PAUSED) {
                    LOG.warn("event=recovery_left_paused migration={} domain={} reason=\"the migration had not paused it\"", m.id(),
                            m.first().field("domain"));
                }
            });
            String why = "daemon restarted before the commit point (the migration had not paused the guest)";
            finish(m, Journal.State.FAILED, why, new MigrationPhase.Failed(why));
            return;
        }
        // PAUSING or COMMITTING
        MigrationInfo info = infoOf(m);
        registry.hold(info.domain(), m.id());
        InDoubtCase c = context.openInDoubt(info);
        String why = m.state() == Journal.State.COMMITTING ? "daemon restarted after COMMITTING"
                : "daemon restarted with the guest paused for the hand-over";
        registry.remember(summaryOf(m, new MigrationPhase.InDoubt(why)));
        background.execute(() -> resolveInDoubt(m, c, domain));
    }

    /** A source in doubt: the destination's durable answer, or an operator, decides. */
    private void resolveInDoubt(Journal.Migration m, InDoubtCase c, Optional<Domain> domain) {
        MigrationPhase end = new MigrationPhase.Failed("in doubt at shutdown: guest left paused; resolved at the next start");
        try {
            Optional<InDoubtCase.Verdict> verdict = InDoubtResolver.resolve(context, c,
                    why -> registry.remember(summaryOf(m, new MigrationPhase.InDoubt(why))));
            if (verdict.isEmpty()) {
                return; // engine closing: the journal is unchanged, the next start asks again
            }
            InDoubtCase.Verdict v = verdict.get();
            domain.ifPresent(d -> disableLogDirty(d, m.id()));
            if (v.resolution() == HandoverMessage.Resolution.COMMITTED) {
                if (!Retry.untilDone(context, c.info(), Attention.DESTROY_FAILED, "destroy_source", () -> destroyIfPresent(m))) {
                    return;
                }
                end = new MigrationPhase.Done();
                journal(m, Journal.State.DONE, "resolved after restart: committed, by the " + v.by());
            } else {
                boolean byOperator = v.by().equals(InDoubtCase.BY_OPERATOR);
                if (m.enginePaused() || byOperator) {
                    domain.ifPresent(d -> {
                        nameBack(d, m);
                        resumeQuietly(d, m.id());
                    });
                }
                String why = (byOperator ? "operator resolved: source resumed" : "destination did not commit")
                        + " (resolved after restart)";
                end = new MigrationPhase.Failed(why);
                journal(m, Journal.State.FAILED, why);
            }
            registry.remember(summaryOf(m, end));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            // released before settled: whoever waits on settled() (migrationctl resolve) finds the domain free
            registry.release(m.first().field("domain"), m.id());
            context.settleInDoubt(c, end);
        }
    }

    /**
     * A step that must happen before the end is journaled: a few attempts now; if they all fail, the domain is
     * held and the step retried in the background (the operator alerted) until it works or the engine closes.
     */
    private void persist(Journal.Migration m, MigrationInfo info, Attention why, String step, Retry.Step action,
                         Journal.State end, String reason, MigrationPhase phase) {
        if (Retry.attempts(info, step, Retry.QUICK_ATTEMPTS, action)) {
            finish(m, end, reason, phase);
            return;
        }
        registry.hold(info.domain(), m.id());
        registry.remember(summaryOf(m, new MigrationPhase.InDoubt(step + " keeps failing: retried in the background")));
        background.execute(() -> {
            try {
                if (Retry.untilDone(context, info, why, step, action)) {
                    finish(m, end, reason, phase);
                }
            } finally {
                registry.release(info.domain(), m.id());
            }
        });
    }

    private void finish(Journal.Migration m, Journal.State state, String reason, MigrationPhase phase) {
        journal(m, state, reason);
        registry.remember(summaryOf(m, phase));
    }

    /** Journals a recovery's end; a failure is logged, and the next start recovers the migration again. */
    private void journal(Journal.Migration m, Journal.State state, String reason) {
        try {
            context.journal(m.role(), m.id(), state, Map.of("reason", reason));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} state={} error=\"{}\" action=\"recovered again at the next start\"",
                    m.id(), state, e.getMessage());
        }
    }

    /**
     * The journal's domain, unless a domain of that name with another UUID took its place. A migration within
     * one host has two copies of one UUID, so the names looked under are this side's own: the destination's
     * build name (and, once COMMITTED, the offered name it is renamed to), the source's name or, once it was
     * renamed away before Go, that name.
     */
    private Optional<Domain> findOurs(Journal.Migration m) {
        String uuid = m.first().field("uuid");
        for (String name : namesOf(m)) {
            try {
                Optional<Domain> d = hypervisor.findDomain(name);
                if (d.isPresent() && !uuid.isEmpty() && !d.get().info().uuid().toString().equals(uuid)) {
                    LOG.warn("event=recovery_domain_mismatch domain={} journal_uuid={} found_uuid={}", name, uuid,
                            d.get().info().uuid());
                } else if (d.isPresent()) {
                    return d;
                }
            } catch (HypervisorException e) {
                LOG.warn("event=recovery_lookup_failed domain={} error=\"{}\"", name, e.getMessage());
            }
        }
        return Optional.empty();
    }

    private static List<String> namesOf(Journal.Migration m) {
        String name = m.first().field("domain");
        if (m.role() == Journal.Role.DESTINATION) {
            String built = m.first().field(IncomingMigration.BUILD_NAME_FIELD);
            if (built.isEmpty() || built.equals(name)) {
                return List.of(name);
            }
            return m.state() == Journal.State.COMMITTED ? List.of(built, name) : List.of(built);
        }
        String away = m.last().field(OutgoingMigration.AWAY_NAME_FIELD);
        if (!away.isEmpty()) {
            return List.of(away);
        }
        // renamed away, then stopped before COMMITTING was journaled: Go was not sent, no copy here took the name
        return m.state() == Journal.State.COMMITTING ? List.of(name) : List.of(name, name + OutgoingMigration.MIGRATED_AWAY_SUFFIX);
    }

    /** A source copy renamed away before Go that stays the guest takes its name back (logged if it cannot). */
    private static void nameBack(Domain d, Journal.Migration m) {
        String name = m.first().field("domain");
        try {
            if (!d.info().name().equals(name)) {
                d.rename(name);
                LOG.info("event=recovery_renamed migration={} to={}", m.id(), name);
            }
        } catch (HypervisorException | RuntimeException e) {
            LOG.error("event=recovery_rename_failed migration={} name={} error=\"{}\"", m.id(), name, e.getMessage());
        }
    }

    private void destroyIfPresent(Journal.Migration m) throws HypervisorException {
        Optional<Domain> d = findOurs(m);
        if (d.isPresent()) {
            d.get().destroy();
            LOG.info("event=recovery_destroyed migration={} domain={}", m.id(), m.first().field("domain"));
        }
    }

    private static void resumeIfPaused(Domain d, String id) throws HypervisorException {
        if (d.info().state() == DomainState.PAUSED) {
            d.resume();
            LOG.info("event=recovery_resumed migration={} domain={}", id, d.info().name());
        }
    }

    private static void resumeQuietly(Domain d, String id) {
        try {
            resumeIfPaused(d, id);
        } catch (HypervisorException e) {
            LOG.error("event=recovery_step_failed migration={} step=resume error=\"{}\"", id, e.getMessage());
        }
    }

    private static void disableLogDirty(Domain d, String id) {
        try {
            if (d.dirtyLog().enabled()) {
                d.dirtyLog().disable();
            }
        } catch (HypervisorException e) {
            LOG.warn("event=recovery_step_failed migration={} step=disable_log_dirty error=\"{}\"", id, e.getMessage());
        }
    }

    private static DomainState stateOf(Domain d) {
        try {
            return d.info().state();
        } catch (HypervisorException e) {
            return DomainState.PAUSED; // cannot tell: treated as not running
        }
    }

    private static MigrationPhase phaseOf(Journal.Entry end) {
        return switch (end.state()) {
            case DONE -> new MigrationPhase.Done();
            case CANCELLED -> new MigrationPhase.Cancelled();
            default -> new MigrationPhase.Failed(end.field("reason"));
        };
    }

    /** The fixed facts of a migration read back from the journal (its idempotency key is remembered too). */
    private MigrationInfo infoOf(Journal.Migration m) {
        Journal.Entry start = m.first();
        GuestType guest;
        try {
            guest = GuestType.valueOf(start.field("guest"));
        } catch (IllegalArgumentException e) {
            guest = GuestType.HVM;
        }
        String key = start.field("key");
        if (!key.isEmpty()) {
            registry.rememberKey(key, m.id());
        }
        return new MigrationInfo(m.id(), key.isEmpty() ? null : key,
                start.field("domain").isEmpty() ? "?" : start.field("domain"),
                start.field("peer").isEmpty() ? "?" : start.field("peer"),
                m.role() == Journal.Role.SOURCE ? Direction.OUTGOING : Direction.INCOMING, guest,
                MigrationOptions.DEFAULTS, start.ts());
    }

    /** A history entry for a migration read back from the journal. */
    private MigrationSummary summaryOf(Journal.Migration m, MigrationPhase phase) {
        MigrationResult.Outcome outcome = switch (phase) {
            case MigrationPhase.Done d -> MigrationResult.Outcome.SUCCEEDED;
            case MigrationPhase.Cancelled c -> MigrationResult.Outcome.CANCELLED;
            case MigrationPhase.Failed f -> m.state() == Journal.State.ABORTED ? MigrationResult.Outcome.ABORTED
                    : MigrationResult.Outcome.FAILED;
            default -> null;
        };
        return new MigrationSummary(infoOf(m), phase, Optional.empty(), Optional.ofNullable(outcome),
                phase instanceof MigrationPhase.Failed f ? f.reason() : "", m.last().ts(),
                m.state().terminal() ? m.last().downtime() : Optional.empty());
    }
}
