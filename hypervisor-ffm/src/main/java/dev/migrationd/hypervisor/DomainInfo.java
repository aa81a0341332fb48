package dev.migrationd.hypervisor;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.util.Objects;
import java.util.UUID;

/**
 * A snapshot of a domain's identity and shape.
 *
 * @param name       unique per host
 * @param domid      the hypervisor's domain id
 * @param uuid       stable identity, carried across a migration
 * @param p2mSize    number of guest PFNs covered (highest PFN + 1), the stream's {@code p2m_size}
 * @param vcpus      number of vCPUs
 * @param guestType   PV or HVM: the kind of stream the guest travels in (a PVH guest travels as HVM)
 * @param guestWidth  the guest's word width (PV: 32 or 64; HVM guests report W64)
 * @param state       running or paused
 * @param memoryBytes the guest's memory as its configuration gives it (not the span of its p2m: a PVH or HVM
 *                    guest's highest frames are special pages far above its RAM)
 * @param pvh         an HVM guest with no emulated devices (Xen's PVH): booted without firmware or device
 *                    model, so its stream carries no device-model state
 */
public record DomainInfo(String name, int domid, UUID uuid, long p2mSize, int vcpus,
                         GuestType guestType, Width guestWidth, DomainState state, long memoryBytes, boolean pvh) {
    public DomainInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(guestType, "guestType");
        Objects.requireNonNull(guestWidth, "guestWidth");
        Objects.requireNonNull(state, "state");
        if (memoryBytes < 0) {
            throw new IllegalArgumentException("memoryBytes " + memoryBytes + " is negative");
        }
        if (pvh && guestType != GuestType.HVM) {
            throw new IllegalArgumentException("a PVH guest is an HVM guest, not " + guestType);
        }
    }

    /** A domain whose memory is its whole p2m and that is not PVH (the simulated backend's domains). */
    public DomainInfo(String name, int domid, UUID uuid, long p2mSize, int vcpus,
                      GuestType guestType, Width guestWidth, DomainState state) {
        this(name, domid, uuid, p2mSize, vcpus, guestType, guestWidth, state, p2mSize * StreamLimits.PAGE_SIZE, false);
    }

    /** The shape of this domain, as an incoming migration needs it. */
    public DomainShape shape() {
        return new DomainShape(name, uuid, p2mSize, vcpus, guestType, guestWidth);
    }
}
