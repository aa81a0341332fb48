package dev.migrationd.daemon.engine;

import java.util.List;
import java.util.Optional;

/**
 * The migration engine: one per daemon. Starts outgoing migrations, accepts incoming ones, saves and
 * restores domains, keeps the journal and the history, and tells observers what happens.
 *
 * <p>Threading: every public method is thread-safe. Each migration (either direction) runs on its own
 * virtual thread, which owns the migration's domain, dirty log and connection exclusively; the engine's
 * shared maps are concurrent. Observers are called on the migration's thread.
 *
 * <p>Lifecycle: construct with an {@link EngineConfig}; the constructor reads the journal and resolves
 * migrations left in doubt by a previous run (in the background); {@link #close()} cancels what has
 * not passed the commit point and waits for the rest.
 */
public final class MigrationEngine implements AutoCloseable {

    private final EngineConfig config;

    public MigrationEngine(EngineConfig config) {
        this.config = java.util.Objects.requireNonNull(config, "config");
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
     */
    public MigrationHandle start(MigrationRequest request) throws EngineException {
        throw notYet("start");
    }

    /** A live or remembered migration. */
    public Optional<MigrationHandle> find(String id) {
        throw notYet("find");
    }

    /** Live migrations first, then the recent history (newest first), including entries from before a restart. */
    public List<MigrationSummary> list() {
        throw notYet("list");
    }

    /**
     * Cancels a migration. Before the commit point the guest keeps (or resumes) running on the source
     * and the destination destroys its copy; after it the cancel reports {@link CancelOutcome#COMPLETED_FIRST}.
     *
     * @throws EngineException.UnknownMigrationException when no such migration is known
     */
    public CancelOutcome cancel(String id) throws EngineException {
        throw notYet("cancel");
    }

    /** Saves a domain to a file, synchronously. */
    public SaveResult save(SaveRequest request) throws EngineException {
        throw notYet("save");
    }

    /** Restores a domain from a file, synchronously. */
    public RestoreResult restore(RestoreRequest request) throws EngineException {
        throw notYet("restore");
    }

    /** Registers an observer for every migration of this engine (both directions). */
    public void addObserver(MigrationObserver observer) {
        throw notYet("addObserver");
    }

    public void removeObserver(MigrationObserver observer) {
        throw notYet("removeObserver");
    }

    /**
     * Hands an incoming peer connection to the engine (called by the transport's server for each
     * accepted connection). The engine reads the first message on its own virtual thread: an Offer
     * starts an incoming migration, a Query is answered from the journal. Returns immediately.
     */
    public void acceptIncoming(PeerConnection connection) {
        throw notYet("acceptIncoming");
    }

    @Override
    public void close() {
    }

    private static UnsupportedOperationException notYet(String what) {
        return new UnsupportedOperationException("MigrationEngine." + what + " is not implemented yet");
    }
}
