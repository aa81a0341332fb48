package dev.migrationd.daemon.engine.run;

/**
 * A request the engine refuses or cannot carry out. {@link #kind()} tells the control API which status
 * to answer with (it maps kinds to gRPC codes in one place); the message is one line for the operator.
 */
public class EngineException extends Exception {

    /** Classes of failure, for the control API's status mapping. */
    public enum Kind {
        /** No such domain, migration, peer or file. */
        NOT_FOUND,
        /** The name is taken (restore into an existing domain, a file that exists without --force). */
        ALREADY_EXISTS,
        /** The domain is already migrating (or being saved). */
        BUSY,
        /** The request is malformed. */
        INVALID_ARGUMENT,
        /** The configuration forbids it (a path outside save-dirs or inside the state directory). */
        PERMISSION_DENIED,
        /** The host cannot do it now (backend lacks the capability, engine shutting down). */
        FAILED_PRECONDITION,
        /** The operation itself failed (I/O, hypervisor, stream error). */
        INTERNAL
    }

    private final Kind kind;

    public EngineException(Kind kind, String message) {
        this(kind, message, null);
    }

    public EngineException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = java.util.Objects.requireNonNull(kind, "kind");
    }

    public Kind kind() {
        return kind;
    }

    /** A second migration (or save) of a domain that is already migrating. */
    public static final class DomainBusyException extends EngineException {
        private final String domain;
        private final String migrationId;

        public DomainBusyException(String domain, String migrationId) {
            super(Kind.BUSY, "domain " + domain + " is already migrating (migration " + migrationId + ")");
            this.domain = domain;
            this.migrationId = migrationId;
        }

        public String domain() {
            return domain;
        }

        /** The migration that owns the domain. */
        public String migrationId() {
            return migrationId;
        }
    }

    /** No migration with this id (neither live nor in the history). */
    public static final class UnknownMigrationException extends EngineException {
        public UnknownMigrationException(String id) {
            super(Kind.NOT_FOUND, "no migration with id " + id);
        }
    }

    /** A peer name missing from the daemon's peer map. */
    public static final class UnknownPeerException extends EngineException {
        public UnknownPeerException(String peer) {
            super(Kind.NOT_FOUND, "unknown peer '" + peer + "' (not in the daemon's peer map)");
        }
    }
}
