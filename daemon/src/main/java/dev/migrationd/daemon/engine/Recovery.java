package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.InDoubtResolver;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
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
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finishes, when the engine starts, what a previous run of the daemon left in the journal. A destination
 * unpauses a domain whose COMMITTED is journaled and destroys one that never saw Go. A source resumes a
 * guest whose migration had not reached COMMITTING; one that had is in doubt: its domain stays held and
 * paused while the destination is asked, in the background, until it answers. Every migration read back
 * goes into the history.
 *
 * <p>Threading: {@link #recover} runs on the thread constructing the engine, before the engine admits
 * anything; each in-doubt migration is then resolved on its own virtual thread ({@code recover-<id>}),
 * which owns that domain until it is done.
 */
final class Recovery {

    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

    private final Hypervisor hypervisor;
    private final MigrationRegistry registry;
    private final HandoverContext context;

    Recovery(Hypervisor hypervisor, MigrationRegistry registry, HandoverContext context) {
        this.hypervisor = hypervisor;
        this.registry = registry;
        this.context = context;
    }

    /** Replays the journal's entries: the first and last entry of each migration decide. */
    void recover(List<Journal.Entry> entries) {
        Map<String, Journal.Entry> first = new LinkedHashMap<>();
        for (Journal.Entry e : entries) {
            first.putIfAbsent(e.role() + "/" + e.id(), e);
        }
        Map<String, Journal.Entry> last = Journal.lastById(entries);
        for (var kv : last.entrySet()) {
            Journal.Entry start = first.get(kv.getKey());
            Journal.Entry end = kv.getValue();
            if (!end.state().terminal()) {
                try {
                    recoverOne(start, end);
                } catch (IOException e) {
                    throw new UncheckedIOException("journal write during recovery failed", e);
                }
                continue;
            }
            registry.remember(summaryOf(start, end, phaseOf(end)));
        }
    }

    private void recoverOne(Journal.Entry start, Journal.Entry end) throws IOException {
        String domainName = start.field("domain");
        String uuid = start.field("uuid");
        Optional<Domain> domain = findOurs(domainName, uuid);
        switch (end.role()) {
            case DESTINATION -> {
                if (end.state() == Journal.State.COMMITTED) {
                    domain.ifPresent(d -> resumeQuietly(d, end.id()));
                    context.journal(Journal.Role.DESTINATION, end.id(), Journal.State.DONE, Map.of("reason", "recovered after restart"));
                    registry.remember(summaryOf(start, end, new MigrationPhase.Done()));
                } else {
                    domain.ifPresent(d -> destroyQuietly(d, end.id()));
                    String why = "daemon restarted before Go: partial domain destroyed";
                    context.journal(Journal.Role.DESTINATION, end.id(), Journal.State.FAILED, Map.of("reason", why));
                    registry.remember(summaryOf(start, end, new MigrationPhase.Failed(why)));
                }
            }
            case SOURCE -> {
                if (end.state() == Journal.State.COMMITTING) {
                    registry.hold(domainName, end.id());
                    registry.remember(summaryOf(start, end, new MigrationPhase.InDoubt("daemon restarted after Go")));
                    Thread.ofVirtual().name("recover-" + end.id()).start(() -> resolveInDoubt(start, end, domain));
                } else {
                    domain.ifPresent(d -> {
                        try {
                            if (d.dirtyLog().enabled()) {
                                d.dirtyLog().disable();
                            }
                        } catch (HypervisorException e) {
                            LOG.warn("event=recovery_step_failed migration={} step=disable_log_dirty error=\"{}\"", end.id(), e.getMessage());
                        }
                        resumeQuietly(d, end.id());
                    });
                    String why = "daemon restarted before the commit point: guest resumed on the source";
                    context.journal(Journal.Role.SOURCE, end.id(), Journal.State.FAILED, Map.of("reason", why));
                    registry.remember(summaryOf(start, end, new MigrationPhase.Failed(why)));
                }
            }
        }
    }

    /** A source journaled COMMITTING and no end: asks the destination until it answers or the engine closes. */
    private void resolveInDoubt(Journal.Entry start, Journal.Entry end, Optional<Domain> domain) {
        String id = end.id();
        try {
            Optional<HandoverMessage.Resolution> answer = InDoubtResolver.resolve(context, id, start.field("peer"));
            if (answer.isEmpty()) {
                return; // engine closing: still COMMITTING in the journal, asked again at the next start
            }
            MigrationPhase phase = switch (answer.get()) {
                case COMMITTED -> {
                    domain.ifPresent(d -> destroyQuietly(d, id));
                    context.journal(Journal.Role.SOURCE, id, Journal.State.DONE, Map.of("reason", "resolved after restart"));
                    yield new MigrationPhase.Done();
                }
                // a destination that does not know the id never journaled COMMITTED for it
                case NOT_COMMITTED, UNKNOWN -> {
                    domain.ifPresent(d -> resumeQuietly(d, id));
                    String why = "destination did not commit: guest resumed on the source (resolved after restart)";
                    context.journal(Journal.Role.SOURCE, id, Journal.State.FAILED, Map.of("reason", why));
                    yield new MigrationPhase.Failed(why);
                }
            };
            registry.remember(summaryOf(start, end, phase));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} error=\"{}\"", id, e.getMessage());
        } finally {
            registry.release(start.field("domain"), id);
        }
    }

    /** The journal's domain, unless a domain of that name with another UUID took its place. */
    private Optional<Domain> findOurs(String name, String uuid) {
        try {
            Optional<Domain> d = hypervisor.findDomain(name);
            if (d.isPresent() && !uuid.isEmpty() && !d.get().info().uuid().toString().equals(uuid)) {
                LOG.warn("event=recovery_domain_mismatch domain={} journal_uuid={} found_uuid={}", name, uuid,
                        d.get().info().uuid());
                return Optional.empty();
            }
            return d;
        } catch (HypervisorException e) {
            LOG.warn("event=recovery_lookup_failed domain={} error=\"{}\"", name, e.getMessage());
            return Optional.empty();
        }
    }

    private static void resumeQuietly(Domain d, String id) {
        try {
            if (d.info().state() == DomainState.PAUSED) {
                d.resume();
                LOG.info("event=recovery_resumed migration={} domain={}", id, d.info().name());
            }
        } catch (HypervisorException e) {
            LOG.error("event=recovery_step_failed migration={} step=resume error=\"{}\"", id, e.getMessage());
        }
    }

    private static void destroyQuietly(Domain d, String id) {
        try {
            String name = d.info().name();
            d.destroy();
            LOG.info("event=recovery_destroyed migration={} domain={}", id, name);
        } catch (HypervisorException e) {
            LOG.error("event=recovery_step_failed migration={} step=destroy error=\"{}\"", id, e.getMessage());
        }
    }

    private static MigrationPhase phaseOf(Journal.Entry end) {
        return switch (end.state()) {
            case DONE -> new MigrationPhase.Done();
            case CANCELLED -> new MigrationPhase.Cancelled();
            default -> new MigrationPhase.Failed(end.field("reason"));
        };
    }

    /** A history entry for a migration read back from the journal (its idempotency key is remembered too). */
    private MigrationSummary summaryOf(Journal.Entry start, Journal.Entry end, MigrationPhase phase) {
        GuestType guest;
        try {
            guest = GuestType.valueOf(start.field("guest"));
        } catch (IllegalArgumentException e) {
            guest = GuestType.HVM;
        }
        String key = start.field("key");
        MigrationInfo info = new MigrationInfo(end.id(), key.isEmpty() ? null : key,
                start.field("domain").isEmpty() ? "?" : start.field("domain"),
                start.field("peer").isEmpty() ? "?" : start.field("peer"),
                end.role() == Journal.Role.SOURCE ? Direction.OUTGOING : Direction.INCOMING, guest,
                MigrationOptions.DEFAULTS, start.ts());
        if (!key.isEmpty()) {
            registry.rememberKey(key, end.id());
        }
        MigrationResult.Outcome outcome = switch (phase) {
            case MigrationPhase.Done d -> MigrationResult.Outcome.SUCCEEDED;
            case MigrationPhase.Cancelled c -> MigrationResult.Outcome.CANCELLED;
            case MigrationPhase.Failed f -> end.state() == Journal.State.ABORTED ? MigrationResult.Outcome.ABORTED
                    : MigrationResult.Outcome.FAILED;
            default -> null;
        };
        return new MigrationSummary(info, phase, Optional.empty(), Optional.ofNullable(outcome),
                phase instanceof MigrationPhase.Failed f ? f.reason() : "", end.ts());
    }
}
