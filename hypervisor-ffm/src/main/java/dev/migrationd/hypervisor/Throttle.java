package dev.migrationd.hypervisor;

/** Slows a domain's vCPUs so that pre-copy can converge (like QEMU's auto-converge). */
public interface Throttle {
    /** Largest accepted percentage. */
    int MAX_PERCENT = 99;

    /** Takes {@code percent} (0 = full speed .. {@link #MAX_PERCENT}) of the vCPUs' time away. */
    void setPercent(int percent) throws HypervisorException;

    /** The percentage currently set. */
    int percent();
}
