package dev.migrationd.hypervisor;

/** Optional capabilities a backend may offer; discover them with {@link Hypervisor#capabilities()}. */
public enum Capability {
    /** The guest's vCPUs can be slowed by a percentage ({@link Domain#throttle()}), for convergence. */
    THROTTLE,
    /** {@link Hypervisor#createForRestore} is supported (a backend may be source-only). */
    RESTORE,
    /** {@link Domain#rename} is supported (a migration between two daemons of one host needs it). */
    RENAME,
    /**
     * {@link Hypervisor#restoreFromStream} is supported: the host's toolstack builds an incoming guest itself
     * from the domain's configuration ({@link Domain#toolstackConfig()} on the source) and a save stream.
     */
    STREAM_RESTORE
}
