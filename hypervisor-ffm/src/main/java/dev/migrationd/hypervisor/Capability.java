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
    STREAM_RESTORE,
    /**
     * Memory that a restore into a {@link Hypervisor#createForRestore} domain allocates without data
     * ({@link GuestMemory#populateOnly} with {@code XALLOC}) reads as zero, so a source may send an all-zero page
     * as an allocate-only entry. Xen does not promise this: {@code populate_physmap} hands out free pages as they
     * are, and a page freed by a running domain (or left unscrubbed by a boot with {@code bootscrub=false}) keeps
     * its old contents; libxc's restore populates an XALLOC entry and writes nothing into it.
     */
    ZEROED_ALLOCATION
}
