package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.file.FileOperation;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.handover.InDoubtResolver;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
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
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
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

    /** How long {@link #close()} waits for running migrations to end. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

    private final EngineConfig config;
    private final Journal journal;
    private final MigrationRegistry registry;
    private final Admission admission;
    private final EngineContext context;

    public MigrationEngine(EngineConfig config) throws IOException {
        this.config = Objects.requireNonNull(config, "config");
        this.journal = new Journal(config.stateDir());
        this.registry = new MigrationRegistry(config.clock(), config.historySize());
        this.admission = new Admission(config, registry, journal);
        this.context = new EngineContext(config, journal, registry, admission);
        new Recovery(config.hypervisor(), registry, context).recover(journal.replayed());
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
            Thread.ofVirtual().name("migration-out-" + run.id()).start(run::run);
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
            PeerConnection.Inbound first = connection.receive(config.handshakeTimeout());
            if (!(first instanceof PeerConnection.Message m)) {
                ((PeerConnection.StreamData) first).release();
                LOG.warn("event=peer_protocol_violation peer={} problem=\"stream data before an offer\"", connection.peerName());
                connection.close();
                return;
            }
            switch (m.message()) {
                case HandoverMessage.Query q -> {
                    HandoverMessage.Resolution r = InDoubtResolver.answer(q.migrationId(), registry.incoming(q.migrationId()),
                            journal, config.handshakeTimeout().multipliedBy(2));
                    LOG.info("event=query_answered migration={} answer={}", q.migrationId(), r);
                    connection.send(new HandoverMessage.QueryAnswer(q.migrationId(), r));
                    connection.drain();
                    connection.close();
                }
                case HandoverMessage.Offer o -> admission.incoming(connection, o, context).ifPresent(IncomingMigration::run);
                case HandoverMessage other -> {
                    LOG.warn("event=peer_protocol_violation peer={} problem=\"{} before an offer\"", connection.peerName(),
                            other.getClass().getSimpleName());
                    connection.close();
                }
            }
        } catch (IOException | TimeoutException e) {
            LOG.warn("event=incoming_connection_failed peer={} error=\"{}\"", connection.peerName(), MigrationAbort.describe(e));
            connection.close();
        } catch (InterruptedException e) {
            connection.close();
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
     * @throws EngineException with kind NOT_FOUND (no such domain) or ALREADY_EXISTS (the file exists and
     *         overwriting was not asked for), before anything is changed
     */
    public MigrationHandle startSave(SaveRequest request, String id, String idempotencyKey) throws EngineException {
        Objects.requireNonNull(request, "request");
        return startFile("save", request.domain(), id, idempotencyKey, () -> {
            if (!request.overwrite() && (java.nio.file.Files.exists(request.file())
                    || java.nio.file.Files.exists(SaveRestore.metaFile(request.file())))) {
                throw new EngineException(EngineException.Kind.ALREADY_EXISTS, request.file() + " exists (use --force to replace it)");
            }
            dev.migrationd.hypervisor.DomainInfo di = config.hypervisor().findDomain(request.domain()).orElseThrow(
                    () -> new EngineException(EngineException.Kind.NOT_FOUND, "no domain named " + request.domain())).info();
            return FileOperation.save(new MigrationInfo(id, idempotencyKey, request.domain(), request.file().toString(),
                    Direction.SAVE, di.guestType(), MigrationOptions.DEFAULTS.withFormat(request.format()),
                    config.clock().instant()), context, config.hypervisor(), config.ticker(), request);
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
        return startFile("restore", request.name(), id, idempotencyKey, () -> {
            SaveRestore.Saved saved = SaveRestore.readMeta(request.file(), request.name());
            if (config.hypervisor().findDomain(request.name()).isPresent()) {
                throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "a domain named " + request.name() + " exists");
            }
            return FileOperation.restore(new MigrationInfo(id, idempotencyKey, request.name(), request.file().toString(),
                    Direction.RESTORE, saved.shape().guestType(), MigrationOptions.DEFAULTS.withFormat(saved.format()),
                    config.clock().instant()), context, config.hypervisor(), config.ticker(), request);
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
