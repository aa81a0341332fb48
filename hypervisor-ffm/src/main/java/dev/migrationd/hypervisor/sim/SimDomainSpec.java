package dev.migrationd.hypervisor.sim;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.util.Objects;

/**
 * A sim-only domain to create: {@link SimHypervisor#create(SimDomainSpec)}.
 *
 * @param name        unique per host
 * @param memoryBytes guest memory, a multiple of 4 KiB
 * @param vcpus       1 .. {@link #MAX_VCPUS}
 * @param guestType   PV or HVM
 * @param guestWidth  PV: W32 (PAE) or W64; HVM guests are W64
 * @param fill        initial content of the data pages
 * @param workload    what the vCPUs do once running
 * @param paused      create it paused instead of running
 */
public record SimDomainSpec(String name, long memoryBytes, int vcpus, GuestType guestType, Width guestWidth,
                            Fill fill, WorkloadSpec workload, boolean paused) {

    /** vCPUs per sim domain (each is a platform thread). */
    public static final int MAX_VCPUS = 64;

    /** Initial content of a new domain's data pages. */
    public enum Fill {
        /** Zero pages: nothing is committed until written. */
        ZERO,
        /** Every data page incompressible random bytes (commits all memory). */
        RANDOM
    }

    public SimDomainSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(guestType, "guestType");
        Objects.requireNonNull(guestWidth, "guestWidth");
        Objects.requireNonNull(fill, "fill");
        Objects.requireNonNull(workload, "workload");
        SimHypervisor.checkName(name);
        if (memoryBytes <= 0 || memoryBytes % StreamLimits.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("memory must be a positive multiple of 4096 bytes, not " + memoryBytes);
        }
        if (memoryBytes / StreamLimits.PAGE_SIZE > StreamLimits.MAX_P2M_SIZE) {
            throw new IllegalArgumentException("memory " + memoryBytes + " exceeds the stream's limit of "
                    + StreamLimits.MAX_P2M_SIZE + " pages");
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus " + vcpus + " outside 1.." + MAX_VCPUS);
        }
        if (guestType == GuestType.HVM && guestWidth != Width.W64) {
            throw new IllegalArgumentException("HVM guests report a 64-bit width");
        }
    }

    /** A running, zero-filled domain with this workload. */
    public static SimDomainSpec of(String name, long memoryBytes, int vcpus, GuestType type, Width width,
                                   WorkloadSpec workload) {
        return new SimDomainSpec(name, memoryBytes, vcpus, type, width, Fill.ZERO, workload, false);
    }

    public SimDomainSpec withFill(Fill f) {
        return new SimDomainSpec(name, memoryBytes, vcpus, guestType, guestWidth, f, workload, paused);
    }

    public SimDomainSpec withPaused(boolean p) {
        return new SimDomainSpec(name, memoryBytes, vcpus, guestType, guestWidth, fill, workload, p);
    }

    public long p2mSize() {
        return memoryBytes / StreamLimits.PAGE_SIZE;
    }
}
