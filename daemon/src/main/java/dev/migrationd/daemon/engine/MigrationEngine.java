package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.file.FileOperation;
import dev.migrationd.daemon.engine.file.FilePolicy;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.fault.FailpointNames;
import dev.migrationd.daemon.engine.fault.Failpoints;
import dev.migrationd.daemon.engine.handover.InDoubtCase;
import dev.migrationd.daemon.engine.handover.InDoubtResolver;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationObserver;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.OperatorDecision;
import dev.migrationd.daemon.engine.run.Resolved;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The migration engine: one per daemon. Starts outgoing migrations, accepts incoming ones, saves and
 * restores domains, and tells observers what happens. A facade over {@link Admission} (what may start),
 * {@link MigrationRegistry} (every migration, and which domain each holds), {@link Recovery} (what the
 * journal says a previous run left) and {@link EngineContext} (what the runs see of their engine).
 *
 * <p>Threading: every public method is thread-safe. Each migration runs on its own virtual thread, which
 * owns its domain, dirty log and connection; an incoming migration runs on the thread that read its
 * connection's first message. Observers are called on the migration's thread.
 *
 * <p>Lifecycle: the constructor opens the journal and runs the recovery (in-doubt migrations are resolved in
 * the background); {@link #close()} cancels what has not passed the commit point and waits for the rest.
 */
public final class MigrationEngine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationEngine.class);

    /** How long {@link #resolve} waits for the decision to be carried out. */
    static final Duration RESOLVE_WAIT = Duration.ofSeconds(60);

    private final EngineConfig config;
    private final Journal journal;
    private final MigrationRegistry registry;
    private final Admission admission;
    private final EngineContext context;

    public MigrationEngine(EngineConfig config) throws IOException {
        this(config, List.of());
    }

    /**
     * With observers that hear everything from the start, recovery included: a migration recovered in doubt,
     * an operator alert raised while the journal is replayed. An observer added later ({@link #addObserver})
     * misses what happened before.
     */
    public MigrationEngine(EngineConfig config, List<MigrationObserver> observers) throws IOException {
        this(config, observers, r -> Thread.ofVirtual().name("recovery").start(r));
    }

    /** With the executor that carries on what recovery cannot finish at once (in-doubt migrations, failing steps). */
    MigrationEngine(EngineConfig config, java.util.concurrent.Executor recoveryBackground) throws IOException {
        this(config, List.of(), recoveryBackground);
    }

    MigrationEngine(EngineConfig config, List<MigrationObserver> observers, java.util.concurrent.Executor recoveryBackground)
            throws IOException {
        this.config = Objects.requireNonNull(config, "config");
        this.journal = new Journal(config.stateDir(), config.journalRetention(), config.clock(), Journal.COMPACT_THRESHOLD_BYTES);
        this.registry = new MigrationRegistry(config.clock(), config.historySize());
        this.admission = new Admission(config, registry, journal);
        this.context = new EngineContext(config, journal, registry, admission);
        observers.forEach(this::addObserver);
        new Recovery(config.hypervisor(), registry, context, recoveryBackground).recover(journal.replayed());
    }

    /**
     * {@code migrationd --journal-repair}, with the daemon stopped: repairs a journal that opening refused as
     * damaged in the middle (the whole file kept beside it, the journal cut at the damage). Returns a line saying
     * what was done, or empty when the journal is not damaged (nothing is changed).
     *
     * @throws IOException when the journal cannot be read, copied or cut
     */
    public static Optional<String> repairDamagedJournal(Path stateDir) throws IOException {
        return Journal.repairDamage(stateDir, java.time.Clock.systemUTC()).map(r -> "journal "
                + stateDir.resolve(Journal.FILE_NAME) + " cut at byte offset " + r.offset() + " (" + r.cut()
                + " bytes); the damaged file is kept as " + r.keptAs());
    }

    /** The configuration this engine runs with. */
    public EngineConfig config() {
        return config;
    }

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
        Optional<MigrationHandle> earlier = registry.forKey(request.idempotencyKey());
        if (earlier.isPresent()) {
            return earlier.get();
        }
        OutgoingMigration run = admission.outgoing(request, context);
        MigrationHandle registered = registry.register(run);
        if (registered == run) {
            LOG.info("event=migration_started migration={} domain={} peer={} guest={} policy={} format={}", run.id(),
                    request.domain(), request.peer(), run.info().guestType(), request.options().policy().cliName(),
                    request.options().format());
            Thread.ofVirtual().name("migration-out-" + run.id()).start(() -> runGuarded(run));
        }
        return registered;
    }

    /**
     * Hands an incoming peer connection to the engine (called by the transport's server for each
     * accepted connection). The engine reads the first message on its own virtual thread: an Offer
     * starts an incoming migration, a Query is answered from the journal. Returns immediately.
     */
    public void acceptIncoming(PeerConnection connection) {
        Thread.ofVirtual().name("peer-incoming").start(() -> handleIncoming(connection));
    }

    /** On the connection's thread, on which an admitted offer's migration runs too. */
    private void handleIncoming(PeerConnection connection) {
        try {
            PeerConnection.Inbound first = connection.receive(config.incomingLimits().offerTimeout());
            if (!(first instanceof PeerConnection.Message m)) {
                ((PeerConnection.StreamData) first).release();
                LOG.warn("event=peer_protocol_violation peer={} problem=\"stream data before an offer\"", connection.peerName());
                connection.close();
                return;
            }
            switch (m.message()) {
                case HandoverMessage.Query q -> {
                    String refused = admission.queryRefusal(connection.credentials());
                    if (refused != null) {
                        LOG.warn("event=query_refused migration={} identity=\"{}\" remote={} reason=\"{}\"", q.migrationId(),
                                connection.credentials().describe(), connection.peerName(), refused);
                        connection.close();
                        return;
                    }
                    // bounded well inside the asker's own wait, so that it hears PENDING rather than nothing
                    HandoverMessage.Resolution r = InDoubtResolver.answer(registry.incomingRun(q.migrationId()),
                            journal.lastState(Journal.Role.DESTINATION, q.migrationId()), registry.isUndecided(q.migrationId()),
                            config.handshakeTimeout().dividedBy(2));
                    Failpoints.hit(FailpointNames.DEST_BEFORE_QUERY_ANSWER);
                    LOG.info("event=query_answered migration={} answer={}", q.migrationId(), r);
                    connection.send(new HandoverMessage.QueryAnswer(q.migrationId(), r));
                    connection.drain();
                    connection.close();
                }
                case HandoverMessage.Offer o -> admission.incoming(connection, o, context).ifPresent(MigrationEngine::runGuarded);
                case HandoverMessage other -> {
                    LOG.warn("event=peer_protocol_violation peer={} problem=\"{} before an offer\"", connection.peerName(),
                            other.getClass().getSimpleName());
                    connection.close();
                }
            }
        } catch (TimeoutException e) {
            LOG.warn("event=incoming_connection_closed peer={} identity=\"{}\" reason=\"no Offer or Query within {} ms "
                    + "(offer-timeout)\"", connection.peerName(), connection.credentials().describe(),
                    config.incomingLimits().offerTimeout().toMillis());
            connection.close();
        } catch (IOException e) {
            LOG.warn("event=incoming_connection_failed peer={} error=\"{}\"", connection.peerName(), MigrationAbort.describe(e));
            connection.close();
        } catch (InterruptedException e) {
            connection.close();
        }
    }

    /** Exit status when a migration could not even clean up (an Error during its cleanup). */
    public static final int FATAL_EXIT = 70;

    /**
     * Runs a migration to its end. A run turns every failure of its body, an {@link Error} included, into
     * its cleanup; if the cleanup itself fails with an Error, the run has not ended (its guest may be paused,
     * its domain held) and nothing in this process can end it: the daemon stops at once, and the journal
     * lets the next start resolve what was left, as after a crash.
     */
    private static void runGuarded(MigrationRun run) {
        try {
            run.run();
        } catch (Throwable t) {
            if (run.result().isDone()) {
                LOG.error("event=migration_error_after_end migration={} error=\"{}\"", run.id(), t.toString());
                return;
            }
            LOG.error("event=migration_cleanup_failed migration={} error=\"{}\" action=stopping_daemon", run.id(), t.toString());
            Runtime.getRuntime().halt(FATAL_EXIT);
        }
    }

    /** A live or remembered migration (remembered ones from before a restart are not handles: see {@link #list()}). */
    public Optional<MigrationHandle> find(String id) {
        return registry.find(id);
    }

    /** Live migrations first, then the recent history (newest first), including entries from before a restart. */
    public List<MigrationSummary> list() {
        return registry.list();
    }

    /**
     * Cancels a migration. Before the commit point the guest keeps (or resumes) running on the source
     * and the destination destroys its copy; after it the cancel reports {@link CancelOutcome#COMPLETED_FIRST}.
     *
     * @throws EngineException.UnknownMigrationException when no such migration is known
     */
    public CancelOutcome cancel(String id) throws EngineException {
        return registry.cancel(id);
    }

    /**
     * An operator's decision on a source migration in doubt here ({@code migrationctl resolve}): the destination
     * is asked first, and a decision that contradicts what it answers is refused — {@code RESUME_SOURCE} while it
     * says COMMITTED, {@code CONFIRM_DESTINATION} while it says NOT_COMMITTED, either while it says PENDING (still
     * deciding). When it is unreachable or has no record (UNKNOWN), the operator's word decides. Returns once the
     * decision is carried out (the copy destroyed, or the guest resumed and FAILED journaled), or after
     * {@link #RESOLVE_WAIT} with the phase it is in then.
     *
     * @throws EngineException.UnknownMigrationException when no such migration is known
     * @throws EngineException with kind FAILED_PRECONDITION when it is not in doubt here, or the destination's
     *         answer contradicts the decision
     */
    public Resolved resolve(String id, OperatorDecision decision) throws EngineException {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(decision, "decision");
        checkOpen();
        InDoubtCase c = registry.inDoubt(id).orElse(null);
        if (c == null) {
            boolean known = registry.find(id).isPresent() || registry.list().stream().anyMatch(s -> s.info().id().equals(id));
            if (!known) {
                throw new EngineException.UnknownMigrationException(id);
            }
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "migration " + id
                    + " is not in doubt on this daemon (resolve acts on the source of a migration in doubt)");
        }
        Optional<HandoverMessage.Resolution> peer = InDoubtResolver.askOnce(context, id, c.info().peer(), 0);
        String answer = peer.map(r -> r.name().toLowerCase(Locale.ROOT)).orElse("unreachable");
        HandoverMessage.Resolution wanted = decision == OperatorDecision.RESUME_SOURCE
                ? HandoverMessage.Resolution.NOT_COMMITTED : HandoverMessage.Resolution.COMMITTED;
        String conflict = conflict(decision, peer.orElse(null));
        if (conflict != null) {
            LOG.warn("event=resolve_refused migration={} decision={} peer_answer={} reason=\"{}\"", id, decision, answer, conflict);
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, conflict);
        }
        InDoubtCase.Verdict v = c.decide(new InDoubtCase.Verdict(wanted, InDoubtCase.BY_OPERATOR));
        if (v.resolution() != wanted) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "the destination answered "
                    + v.resolution() + " meanwhile and the migration was settled that way; nothing else was done");
        }
        LOG.warn("event=operator_resolved migration={} domain={} decision={} peer_answer={} decided_by={}", id,
                c.info().domain(), decision, answer, v.by());
        MigrationPhase phase;
        try {
            phase = c.settled().get(RESOLVE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            phase = new MigrationPhase.InDoubt("decided (" + decision + "), still being carried out");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngineException(EngineException.Kind.INTERNAL, "interrupted while the decision was carried out");
        } catch (ExecutionException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "carrying out the decision failed: " + e.getCause(), e);
        }
        return new Resolved(id, answer, v.by(), phase);
    }

    /** Why the destination's answer forbids the decision, or null. */
    private static String conflict(OperatorDecision decision, HandoverMessage.Resolution peer) {
        if (peer == HandoverMessage.Resolution.PENDING) {
            return "the destination is still deciding (it answers PENDING); nothing was done: try again in a moment";
        }
        if (decision == OperatorDecision.RESUME_SOURCE && peer == HandoverMessage.Resolution.COMMITTED) {
            return "the destination answers COMMITTED: the guest runs there; resuming the source would make two copies."
                    + " Refused (the migration settles by itself; --confirm-destination agrees with it)";
        }
        if (decision == OperatorDecision.CONFIRM_DESTINATION && peer == HandoverMessage.Resolution.NOT_COMMITTED) {
            return "the destination answers NOT_COMMITTED: it destroyed its copy; destroying the source's would lose the"
                    + " guest. Refused (the migration settles by itself; --resume-source agrees with it)";
        }
        return null;
    }

    /** Whether the journal takes appends (false after a failed write, until it is repaired). */
    public boolean journalUsable() {
        return journal.usable();
    }

    /** Registers an observer for every migration of this engine (both directions). */
    public void addObserver(MigrationObserver observer) {
        context.observers().add(Objects.requireNonNull(observer, "observer"));
    }

    public void removeObserver(MigrationObserver observer) {
        context.observers().remove(observer);
    }

    /**
     * Starts saving a domain to a file as an operation of this engine (direction SAVE): returns once it is
     * registered; it runs on its own virtual thread and is followed, cancelled and listed like a migration.
     * A request whose idempotency key was seen before returns the earlier operation; otherwise the operation
     * gets the id {@code id} (a fresh {@link MigrationRequest#newId()}).
     *
     * @throws EngineException.DomainBusyException when the domain is migrating or being saved
     * @throws EngineException with kind NOT_FOUND (no such domain), ALREADY_EXISTS (the file exists and
     *         overwriting was not asked for) or PERMISSION_DENIED (a file the save may not write), before
     *         anything is changed
     */
    public MigrationHandle startSave(SaveRequest request, String id, String idempotencyKey) throws EngineException {
        Objects.requireNonNull(request, "request");
        FilePolicy policy = filePolicy();
        Path target = SaveRestore.target(policy, request.file(), request.overwrite());
        SaveRequest req = request.withFile(target);
        return startFile("save", req.domain(), id, idempotencyKey, () -> {
            dev.migrationd.hypervisor.DomainInfo di = config.hypervisor().findDomain(req.domain()).orElseThrow(
                    () -> new EngineException(EngineException.Kind.NOT_FOUND, "no domain named " + req.domain())).info();
            return FileOperation.save(new MigrationInfo(id, idempotencyKey, req.domain(), target.toString(),
                    Direction.SAVE, di.guestType(), MigrationOptions.DEFAULTS.withFormat(req.format()),
                    config.clock().instant()), context, config.hypervisor(), config.ticker(), policy, req);
        });
    }

    /**
     * Starts restoring a domain from a file as an operation of this engine (direction RESTORE), as
     * {@link #startSave}.
     *
     * @throws EngineException.DomainBusyException when a domain of that name is being restored or received
     * @throws EngineException with kind NOT_FOUND (no file), ALREADY_EXISTS (a domain of that name exists)
     *         or INVALID_ARGUMENT (the file's metadata), before anything is built
     */
    public MigrationHandle startRestore(RestoreRequest request, String id, String idempotencyKey) throws EngineException {
        Objects.requireNonNull(request, "request");
        FilePolicy policy = filePolicy();
        RestoreRequest req = new RestoreRequest(policy.forReading(request.file()), request.name(), request.paused(),
                request.newUuid());
        return startFile("restore", req.name(), id, idempotencyKey, () -> {
            SaveRestore.Saved saved = SaveRestore.inspect(config.hypervisor(), req);
            if (config.hypervisor().findDomain(req.name()).isPresent()) {
                throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "a domain named " + req.name() + " exists");
            }
            if (!req.newUuid()) {
                SaveRestore.refuseRunningUuid(config.hypervisor(), saved.uuid(), req);
            }
            return FileOperation.restore(new MigrationInfo(id, idempotencyKey, req.name(), req.file().toString(),
                    Direction.RESTORE, saved.guestType(), MigrationOptions.DEFAULTS.withFormat(saved.format()),
                    config.clock().instant()), context, config.hypervisor(), config.ticker(), policy, req);
        });
    }

    /** Builds a save or restore once its domain is claimed (checks that need the claim come first). */
    @FunctionalInterface
    private interface FileOperationFactory {
        FileOperation create() throws EngineException, dev.migrationd.hypervisor.HypervisorException;
    }

    /**
     * What a save and a restore share: the idempotency key (an earlier operation is returned), the id unused,
     * {@code domain} claimed (released again when the operation cannot be built), registered, started on its
     * own virtual thread.
     */
    private MigrationHandle startFile(String what, String domain, String id, String idempotencyKey,
                                      FileOperationFactory factory) throws EngineException {
        checkOpen();
        Optional<MigrationHandle> earlier = registry.forKey(idempotencyKey);
        if (earlier.isPresent()) {
            return earlier.get();
        }
        MigrationRequest.checkName("operation id", id);
        if (registry.knows(id)) {
            throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "operation id " + id + " is taken");
        }
        registry.claim(domain, id);
        FileOperation op;
        try {
            op = factory.create();
        } catch (dev.migrationd.hypervisor.HypervisorException e) {
            registry.release(domain, id);
            throw new EngineException(EngineException.Kind.INTERNAL, e.getMessage(), e);
        } catch (EngineException | RuntimeException e) {
            registry.release(domain, id);
            throw e;
        }
        MigrationHandle registered = registry.register(op);
        if (registered == op) {
            LOG.info("event={}_started operation={} domain={} file={} format={}", what, op.id(), op.info().domain(),
                    op.info().peer(), op.info().options().format());
            Thread.ofVirtual().name(what + "-" + op.id()).start(op::run);
        }
        return registered;
    }

    /** Saves a domain to a file and waits for the end (the operation of {@link #startSave}). */
    public SaveResult save(SaveRequest request) throws EngineException {
        return awaitFile(startSave(request, MigrationRequest.newId(), null), SaveResult.class);
    }

    /** Restores a domain from a file and waits for the end (the operation of {@link #startRestore}). */
    public RestoreResult restore(RestoreRequest request) throws EngineException {
        return awaitFile(startRestore(request, MigrationRequest.newId(), null), RestoreResult.class);
    }

    private static <T> T awaitFile(MigrationHandle h, Class<T> type) throws EngineException {
        h.result().join();
        Object end = ((FileOperation) h).ended().orElseThrow();
        if (end instanceof EngineException e) {
            throw e;
        }
        return type.cast(end);
    }

    private FilePolicy filePolicy() {
        return new FilePolicy(config.stateDir(), config.saveDirs());
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
        registry.claim(domain, id);
        try {
            return action.run();
        } finally {
            registry.release(domain, id);
        }
    }

    private void checkOpen() throws EngineException {
        if (context.closing()) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "engine is shutting down");
        }
    }

    @Override
    public void close() {
        context.close();
        List<MigrationRun> live = registry.liveRuns();
        for (MigrationRun r : live) {
            r.cancel();
        }
        long deadline = System.nanoTime() + config.closeWait().toNanos();
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
