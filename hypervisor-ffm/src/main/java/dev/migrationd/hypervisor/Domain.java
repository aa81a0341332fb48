package dev.migrationd.hypervisor;

import java.util.Optional;

/**
 * A handle on one domain. Handles are safe for concurrent use, but a migration owns its domain
 * exclusively while it runs (the engine enforces that; the handle does not).
 */
public interface Domain {

    /** A fresh snapshot of the domain's identity, shape and state. */
    DomainInfo info() throws HypervisorException;

    /** Stops every vCPU. When this returns, no vCPU writes guest memory until {@link #resume()}. */
    void pause() throws HypervisorException;

    /** Lets the vCPUs run again (also: unpauses a domain built by {@link Hypervisor#createForRestore}). */
    void resume() throws HypervisorException;

    /**
     * Ends a restore: runs whatever the backend still has to do once every page and every piece of state
     * has arrived (Xen PV: pin page tables, load vCPUs, rewrite the guest's p2m), leaving the domain fully
     * built and still PAUSED. The engine calls it after the stream's tail and before it reports
     * {@code Received}, so that a failure here is a failure before the hand-over's commit point and never
     * surfaces at the unpause after {@code Go}. Calling it again does nothing; for a domain that is not
     * being restored it does nothing.
     */
    default void completeRestore() throws HypervisorException {
    }

    /**
     * Gives the domain another name, as {@code xl rename} does; the handle stays valid. Offered when the
     * backend has {@link Capability#RENAME}; the name must be free on this host.
     *
     * @throws HypervisorException when the name is taken or invalid, or the backend cannot rename
     */
    default void rename(String newName) throws HypervisorException {
        throw new HypervisorException("rename", newName, "this backend cannot rename domains");
    }

    /**
     * The guest's configuration as this host's toolstack keeps it (Xen: libxl's JSON), for a destination
     * that builds the guest through its own toolstack ({@link Capability#STREAM_RESTORE}); empty when the
     * backend has none for this guest.
     */
    default Optional<ToolstackConfig> toolstackConfig() throws HypervisorException {
        return Optional.empty();
    }

    /** Destroys the domain and frees its memory. The handle is unusable afterwards. */
    void destroy() throws HypervisorException;

    /** The domain's log-dirty mode. */
    DirtyLog dirtyLog();

    /** The domain's memory. */
    GuestMemory memory();

    /** vCPU and platform state, in the stream's own formats. */
    PlatformState platform();

    /** vCPU throttling, when the backend offers {@link Capability#THROTTLE}. */
    Optional<Throttle> throttle();
}
