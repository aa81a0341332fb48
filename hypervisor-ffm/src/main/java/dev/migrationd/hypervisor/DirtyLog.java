package dev.migrationd.hypervisor;

/**
 * Log-dirty mode, with Xen's semantics: a write that happens after a {@link #fetchAndClear} is reported
 * by the next one. The log is driven by one migration (its owner) at a time.
 */
public interface DirtyLog {

    /** Starts tracking writes. Pages written before this call are not reported. */
    void enable() throws HypervisorException;

    /**
     * Copies the set of pages written since {@link #enable()} or the previous fetch into {@code into}
     * (overwriting it) and clears the log.
     *
     * @param into a caller-owned bitmap covering at least {@code p2mSize} PFNs
     * @return the number of dirty pages
     */
    long fetchAndClear(DirtyBitmap into) throws HypervisorException;

    /** Like {@link #fetchAndClear} without clearing (Xen's {@code SHADOW_OP_PEEK}). */
    long peek(DirtyBitmap into) throws HypervisorException;

    /** Stops tracking writes. */
    void disable() throws HypervisorException;

    /** Whether the log is enabled. */
    boolean enabled();
}
