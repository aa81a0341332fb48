package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.HandoverSettings;
import dev.migrationd.daemon.engine.handover.InDoubtResolver;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The migration engine: one per daemon. Starts outgoing migrations, accepts incoming ones, saves and
 * restores domains, keeps the journal and the history, and tells observers what happens.
 *
 * <p>Threading: every public method is thread-safe. Each migration (either direction) runs on its own
 * virtual thread, which owns the migration's domain, dirty log and connection exclusively; the engine's
 * shared maps are concurrent. Observers are called on the migration's thread.
 *
 * <p>Lifecycle: construct with an {@link EngineConfig}; the constructor reads the journal, finishes
 * what a previous run left behind (destination: destroys partial domains, unpauses committed ones;
 * source: resumes guests of migrations that had not committed) and resolves migrations left in doubt in
 * the background. {@link #close()} cancels what has not passed the commit point and waits for the rest.
 */
public final class MigrationEngine implements AutoCloseable, HandoverContext {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationEngine.class);

    /** How long {@link #close()} waits for running migrations to end. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

    private final EngineConfig config;
    private final Journal journal;
    private final List<MigrationObserver> observers = new CopyOnWriteArrayList<>();
    /** Live migrations by id. */
    private final Map<String, MigrationRun> active = new ConcurrentHashMap<>();
    /** Domain name → id of the migration (or save, or recovery) that owns it. */
    private final Map<String, String> busy = new ConcurrentHashMap<>();
    private final Map<String, String> idempotency = new ConcurrentHashMap<>();
    /** Finished migrations, newest first, bounded by {@link EngineConfig#historySize()}. */
    private final Deque<MigrationSummary> history = new ConcurrentLinkedDeque<>();
    private final Map<String, MigrationRun> finishedRuns = new ConcurrentHashMap<>();
    /** The destination journal's last state per migration id (answers in-doubt queries). */
    private final Map<String, Journal.State> destinationStates = new ConcurrentHashMap<>();
    private final AtomicLong incomingBytes = new AtomicLong();
    private volatile boolean closing;

    public MigrationEngine(EngineConfig config) throws IOException {
        this.config = Objects.requireNonNull(config, "config");
        List<Journal.Entry> entries = Journal.read(config.stateDir());
        this.journal = new Journal(config.stateDir());
        recover(entries);
    }

    /** The configuration this engine runs with. */
    public EngineConfig config() {
        return config;
    }

    @Override
    public HandoverSettings settings() {
        return config;
    }

    @Override
    public List<MigrationObserver> observers() {
        return observers;
    }

    @Override
    public boolean closing() {
        return closing;
    }

    @Override
    public void journal(Journal.Role role, String id, Journal.State state, Map<String, String> fields) throws IOException {
        journal.append(new Journal.Entry(config.clock().instant(), id, role, state, fields));
        if (role == Journal.Role.DESTINATION) {
            destinationStates.put(id, state);
        }
    }

    // ---- outgoing ----------------------------------------------------------------------------------

    /**
     * Starts migrating {@code request.domain()} to {@code request.peer()}. Returns as soon as the migration
     * is registered; it runs on its own virtual thread. A request whose idempotency key was seen before
     * returns the earlier migration.
     *
     * @throws EngineException.DomainBusyException when the domain is already migrating or being saved
     * @throws EngineException.UnknownPeerException when the peer is not configured
     * @throws EngineException with kind NOT_FOUND when there is no such domain
     * @throws EngineException with kind INVALID_ARGUMENT when an option is out of range
     *         ({@link MigrationOptions#problem()}), before anything is offered
     */
    public MigrationHandle start(MigrationRequest request) throws EngineException {
        Objects.requireNonNull(request, "request");
        checkOpen();
        if (request.idempotencyKey() != null) {
            String earlier = idempotency.get(request.idempotencyKey());
            if (earlier != null) {
                Optional<MigrationHandle> h = find(earlier);
                if (h.isPresent()) {
                    return h.get();
                }
            }
        }
        String problem = request.options().problem();
        if (problem != null) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "invalid option: " + problem);
        }
        if (!config.peers().knows(request.peer())) {
            throw new EngineException.UnknownPeerException(request.peer());
        }
        if (active.containsKey(request.id()) || finishedRuns.containsKey(request.id())) {
            throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "migration id " + request.id() + " is taken");
        }
        String owner = busy.putIfAbsent(request.domain(), request.id());
        if (owner != null) {
            throw new EngineException.DomainBusyException(request.domain(), owner);
        }
        try {
            Domain domain = config.hypervisor().findDomain(request.domain()).orElseThrow(
                    () -> new EngineException(EngineException.Kind.NOT_FOUND, "no domain named " + request.domain()));
            DomainInfo di = domain.info();
            MigrationInfo info = new MigrationInfo(request.id(), request.idempotencyKey(), request.domain(), request.peer(),
                    Direction.OUTGOING, di.guestType(), request.options(), config.clock().instant());
            OutgoingMigration run = new OutgoingMigration(this, info, domain, di);
            if (request.idempotencyKey() != null) {
                String raced = idempotency.putIfAbsent(request.idempotencyKey(), request.id());
                if (raced != null) {
                    busy.remove(request.domain(), request.id());
                    return find(raced).orElseThrow(() -> new EngineException(EngineException.Kind.ALREADY_EXISTS,
                            "idempotency key " + request.idempotencyKey() + " is in use"));
                }
            }
            active.put(info.id(), run);
            LOG.info("event=migration_started migration={} domain={} peer={} guest={} policy={} format={}", info.id(),
                    info.domain(), info.peer(), di.guestType(), request.options().policy().cliName(),
                    request.options().format());
            Thread.ofVirtual().name("migration-out-" + info.id()).start(run::run);
            return run;
        } catch (HypervisorException e) {
            busy.remove(request.domain(), request.id());
            throw new EngineException(EngineException.Kind.INTERNAL, e.getMessage(), e);
        } catch (EngineException | RuntimeException e) {
            busy.remove(request.domain(), request.id());
            throw e;
        }
    }

    // ---- incoming ----------------------------------------------------------------------------------

    /**
     * Hands an incoming peer connection to the engine (called by the transport's server for each
     * accepted connection). The engine reads the first message on its own virtual thread: an Offer
     * starts an incoming migration, a Query is answered from the journal. Returns immediately.
     */
    public void acceptIncoming(PeerConnection connection) {
        Thread.ofVirtual().name("peer-incoming").start(() -> handleIncoming(connection));
    }

    private void handleIncoming(PeerConnection connection) {
        try {
            PeerConnection.Inbound first = connection.receive(config.handshakeTimeout());
            if (!(first instanceof PeerConnection.Message m)) {
                ((PeerConnection.StreamData) first).release();
                LOG.warn("event=peer_protocol_violation peer={} problem=\"stream data before an offer\"", connection.peerName());
                connection.close();
                return;
            }
            switch (m.message()) {
                case HandoverMessage.Query q -> {
                    HandoverMessage.Resolution r = resolutionFor(q.migrationId());
                    LOG.info("event=query_answered migration={} answer={}", q.migrationId(), r);
                    connection.send(new HandoverMessage.QueryAnswer(q.migrationId(), r));
                    connection.drain();
                    connection.close();
                }
                case HandoverMessage.Offer o -> offered(connection, o);
                case HandoverMessage other -> {
                    LOG.warn("event=peer_protocol_violation peer={} problem=\"{} before an offer\"", connection.peerName(),
                            other.getClass().getSimpleName());
                    connection.close();
                }
            }
        } catch (IOException | TimeoutException e) {
            LOG.warn("event=incoming_connection_failed peer={} error=\"{}\"", connection.peerName(), OutgoingMigration.describe(e));
            connection.close();
        } catch (InterruptedException e) {
            connection.close();
        }
    }

    /** Checks an offer BEFORE any page moves; rejects, or runs the incoming migration on this thread. */
    private void offered(PeerConnection connection, HandoverMessage.Offer offer) throws IOException {
        String id = offer.migrationId();
        String refusal = refusal(offer);
        if (refusal == null && busy.putIfAbsent(offer.shape().name(), id) != null) {
            refusal = "domain " + offer.shape().name() + " is being migrated or restored here already";
        }
        if (refusal == null) {
            long want = offer.shape().memoryBytes();
            if (incomingBytes.addAndGet(want) > config.maxIncomingBytes()) {
                incomingBytes.addAndGet(-want);
                busy.remove(offer.shape().name(), id);
                refusal = "not enough memory admitted for incoming guests (" + want + " bytes asked, limit "
                        + config.maxIncomingBytes() + ")";
            }
        }
        if (refusal != null) {
            LOG.warn("event=offer_rejected migration={} peer={} domain={} reason=\"{}\"", id, offer.sourcePeer(),
                    offer.shape().name(), refusal);
            connection.send(new HandoverMessage.Reject(id, refusal));
            connection.drain();
            connection.close();
            return;
        }
        MigrationInfo info = new MigrationInfo(id, null, offer.shape().name(), offer.sourcePeer(), Direction.INCOMING,
                offer.shape().guestType(), offer.options(), config.clock().instant());
        IncomingMigration run = new IncomingMigration(this, info, connection, offer);
        active.put(id, run);
        LOG.info("event=offer_accepted migration={} peer={} domain={} guest={} p2m_size={} vcpus={}", id,
                offer.sourcePeer(), info.domain(), offer.shape().guestType(), offer.shape().p2mSize(), offer.shape().vcpus());
        run.run();
    }

    private String refusal(HandoverMessage.Offer offer) {
        if (closing) {
            return "daemon is shutting down";
        }
        if (!config.peers().knows(offer.sourcePeer())) {
            return "unknown peer '" + offer.sourcePeer() + "'";
        }
        if (!config.hypervisor().capabilities().contains(Capability.RESTORE)) {
            return "backend " + config.hypervisor().backend() + " cannot build domains (no RESTORE capability)";
        }
        if (active.containsKey(offer.migrationId()) || destinationStates.containsKey(offer.migrationId())) {
            return "migration id " + offer.migrationId() + " was seen before";
        }
        try {
            if (config.hypervisor().findDomain(offer.shape().name()).isPresent()) {
                return "a domain named " + offer.shape().name() + " exists here";
            }
        } catch (HypervisorException e) {
            return "cannot list domains: " + e.getMessage();
        }
        return null;
    }

    /** The answer to an in-doubt Query: waits for a live incoming migration to decide. */
    private HandoverMessage.Resolution resolutionFor(String id) {
        MigrationRun run = active.get(id);
        if (run instanceof IncomingMigration in) {
            try {
                return in.decided().get(config.handshakeTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // fall through to the journal: still ACCEPTED means not committed yet, and it cannot commit
                // without the source, which is the one asking
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Journal.State s = destinationStates.get(id);
        if (s == null) {
            return HandoverMessage.Resolution.UNKNOWN;
        }
        return s == Journal.State.COMMITTED || s == Journal.State.DONE
                ? HandoverMessage.Resolution.COMMITTED : HandoverMessage.Resolution.NOT_COMMITTED;
    }

    @Override
    public void ended(MigrationRun run, MigrationResult r) {
        // history, then finishedRuns, then out of the live map: list() and find() read the live map first,
        // so a concurrent reader finds the migration in exactly one place, never in neither (an empty list
        // between the steps made "wait until idle, then read the newest entry" fail under load)
        addHistory(new MigrationSummary(run.info(), run.phase(), Optional.of(r), Optional.of(r.outcome()), r.reason(),
                config.clock().instant()));
        finishedRuns.put(run.id(), run);
        active.remove(run.id(), run);
        busy.remove(run.info().domain(), run.id());
        if (run instanceof IncomingMigration in) {
            incomingBytes.addAndGet(-in.offerBytes());
        }
    }

    private void addHistory(MigrationSummary s) {
        history.removeIf(h -> h.info().id().equals(s.info().id()) && h.info().direction() == s.info().direction());
        history.addFirst(s);
        while (history.size() > config.historySize()) {
            MigrationSummary old = history.pollLast();
            if (old != null) {
                finishedRuns.remove(old.info().id());
            }
        }
    }

    // ---- queries and control ------------------------------------------------------------------------

    /** A live or remembered migration (remembered ones from before a restart are not handles: see {@link #list()}). */
    public Optional<MigrationHandle> find(String id) {
        MigrationRun r = active.get(id);
        if (r == null) {
            r = finishedRuns.get(id);
        }
        return Optional.ofNullable(r);
    }

    /** Live migrations first, then the recent history (newest first), including entries from before a restart. */
    public List<MigrationSummary> list() {
        List<MigrationSummary> out = new ArrayList<>();
        Instant now = config.clock().instant();
        // the live map is read before the history: a migration ending meanwhile is in one or both (see
        // ended()); where both, the history's entry (with the outcome) is the one listed
        List<MigrationRun> live = new ArrayList<>(active.values());
        List<MigrationSummary> past = new ArrayList<>(history);
        java.util.Set<String> ended = new java.util.HashSet<>();
        List<MigrationSummary> pastOnce = new ArrayList<>();
        for (MigrationSummary s : past) {
            if (ended.add(s.info().direction() + "/" + s.info().id())) {
                pastOnce.add(s);
            }
        }
        live.sort(Comparator.comparing((MigrationRun r) -> r.info().startedAt()).reversed());
        for (MigrationRun r : live) {
            if (!ended.contains(r.info().direction() + "/" + r.id())) {
                out.add(new MigrationSummary(r.info(), r.phase(), Optional.empty(), Optional.empty(), "", now));
            }
        }
        out.addAll(pastOnce);
        return out;
    }

    /**
     * Cancels a migration. Before the commit point the guest keeps (or resumes) running on the source
     * and the destination destroys its copy; after it the cancel reports {@link CancelOutcome#COMPLETED_FIRST}.
     *
     * @throws EngineException.UnknownMigrationException when no such migration is known
     */
    public CancelOutcome cancel(String id) throws EngineException {
        MigrationRun r = active.get(id);
        if (r != null) {
            return r.cancel();
        }
        for (MigrationSummary s : history) {
            if (s.info().id().equals(id)) {
                return s.outcome().orElse(MigrationResult.Outcome.FAILED) == MigrationResult.Outcome.SUCCEEDED
                        ? CancelOutcome.COMPLETED_FIRST : CancelOutcome.FAILED_FIRST;
            }
        }
        throw new EngineException.UnknownMigrationException(id);
    }

    /** Registers an observer for every migration of this engine (both directions). */
    public void addObserver(MigrationObserver observer) {
        observers.add(Objects.requireNonNull(observer, "observer"));
    }

    public void removeObserver(MigrationObserver observer) {
        observers.remove(observer);
    }

    // ---- save / restore -------------------------------------------------------------------------------

    /** Saves a domain to a file, synchronously (on the caller's thread). */
    public SaveResult save(SaveRequest request) throws EngineException {
        return withDomainExclusive(request.domain(), "save", () -> SaveRestore.save(config.hypervisor(), config.ticker(), request));
    }

    /** An action run while the engine holds a domain for it (see {@link #withDomainExclusive}). */
    @FunctionalInterface
    public interface DomainAction<T, X extends Exception> {
        T run() throws X;
    }

    /**
     * Runs {@code action} on the caller's thread while the domain is claimed the way a migration claims
     * it: a migration, save or restore of {@code domain} started meanwhile is refused with
     * {@link EngineException.DomainBusyException}, and the action is refused the same way while one runs.
     * For operations that must not overlap a migration (the sim's inspect pauses the domain to read it).
     *
     * @param purpose a short word naming the action; the claim's id is {@code purpose-<uuid>}, which a
     *                refused migration names as the owner
     * @throws EngineException.DomainBusyException when a migration, save or restore (or another exclusive
     *                                             action) owns the domain
     */
    public <T, X extends Exception> T withDomainExclusive(String domain, String purpose, DomainAction<T, X> action)
            throws EngineException, X {
        Objects.requireNonNull(domain, "domain");
        Objects.requireNonNull(action, "action");
        checkOpen();
        String id = purpose + "-" + UUID.randomUUID();
        String owner = busy.putIfAbsent(domain, id);
        if (owner != null) {
            throw new EngineException.DomainBusyException(domain, owner);
        }
        try {
            return action.run();
        } finally {
            busy.remove(domain, id);
        }
    }

    /** Restores a domain from a file, synchronously (on the caller's thread). */
    public RestoreResult restore(RestoreRequest request) throws EngineException {
        checkOpen();
        String id = "restore-" + UUID.randomUUID();
        String owner = busy.putIfAbsent(request.name(), id);
        if (owner != null) {
            throw new EngineException.DomainBusyException(request.name(), owner);
        }
        try {
            return SaveRestore.restore(config.hypervisor(), config.ticker(), request);
        } finally {
            busy.remove(request.name(), id);
        }
    }

    private void checkOpen() throws EngineException {
        if (closing) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "engine is shutting down");
        }
    }

    // ---- recovery ------------------------------------------------------------------------------------

    private void recover(List<Journal.Entry> entries) {
        Map<String, Journal.Entry> first = new java.util.LinkedHashMap<>();
        for (Journal.Entry e : entries) {
            first.putIfAbsent(e.role() + "/" + e.id(), e);
        }
        Map<String, Journal.Entry> last = Journal.lastById(entries);
        for (var kv : last.entrySet()) {
            Journal.Entry start = first.get(kv.getKey());
            Journal.Entry end = kv.getValue();
            if (end.role() == Journal.Role.DESTINATION) {
                destinationStates.put(end.id(), end.state());
            }
            if (!end.state().terminal()) {
                try {
                    recoverOne(start, end);
                } catch (IOException e) {
                    throw new UncheckedIOException("journal write during recovery failed", e);
                }
                continue;
            }
            addHistory(summaryOf(start, end, phaseOf(end)));
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
                    journal(Journal.Role.DESTINATION, end.id(), Journal.State.DONE, Map.of("reason", "recovered after restart"));
                    addHistory(summaryOf(start, end, new MigrationPhase.Done()));
                } else {
                    domain.ifPresent(d -> destroyQuietly(d, end.id()));
                    String why = "daemon restarted before Go: partial domain destroyed";
                    journal(Journal.Role.DESTINATION, end.id(), Journal.State.FAILED, Map.of("reason", why));
                    addHistory(summaryOf(start, end, new MigrationPhase.Failed(why)));
                }
            }
            case SOURCE -> {
                if (end.state() == Journal.State.COMMITTING) {
                    busy.put(domainName, end.id());
                    addHistory(summaryOf(start, end, new MigrationPhase.InDoubt("daemon restarted after Go")));
                    Thread.ofVirtual().name("recover-" + end.id()).start(() -> resolveRecovered(start, end, domain));
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
                    journal(Journal.Role.SOURCE, end.id(), Journal.State.FAILED, Map.of("reason", why));
                    addHistory(summaryOf(start, end, new MigrationPhase.Failed(why)));
                }
            }
        }
    }

    private void resolveRecovered(Journal.Entry start, Journal.Entry end, Optional<Domain> domain) {
        String id = end.id();
        try {
            OutgoingMigration.Resolution r = InDoubtResolver.resolve(this, id, start.field("peer"));
            MigrationPhase phase;
            switch (r) {
                case COMMITTED -> {
                    domain.ifPresent(d -> destroyQuietly(d, id));
                    journal(Journal.Role.SOURCE, id, Journal.State.DONE, Map.of("reason", "resolved after restart"));
                    phase = new MigrationPhase.Done();
                }
                case NOT_COMMITTED -> {
                    domain.ifPresent(d -> resumeQuietly(d, id));
                    String why = "destination did not commit: guest resumed on the source (resolved after restart)";
                    journal(Journal.Role.SOURCE, id, Journal.State.FAILED, Map.of("reason", why));
                    phase = new MigrationPhase.Failed(why);
                }
                default -> {
                    return;
                }
            }
            addHistory(summaryOf(start, end, phase));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} error=\"{}\"", id, e.getMessage());
        } finally {
            busy.remove(start.field("domain"), id);
        }
    }

    private Optional<Domain> findOurs(String name, String uuid) {
        try {
            Optional<Domain> d = config.hypervisor().findDomain(name);
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
            idempotency.putIfAbsent(key, end.id());
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

    // ---- shutdown --------------------------------------------------------------------------------------

    @Override
    public void close() {
        closing = true;
        List<MigrationRun> live = new ArrayList<>(active.values());
        for (MigrationRun r : live) {
            r.cancel();
        }
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        for (MigrationRun r : live) {
            try {
                r.result().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (ExecutionException | TimeoutException e) {
                LOG.warn("event=close_wait_timeout migration={}", r.id());
            }
        }
        try {
            journal.close();
        } catch (IOException e) {
            LOG.warn("event=journal_close_failed error=\"{}\"", e.getMessage());
        }
    }
}
