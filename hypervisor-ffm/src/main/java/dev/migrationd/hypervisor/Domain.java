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
