package dev.migrationd.hypervisor;

import dev.migrationd.protocol.GuestType;
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
 * @param guestType  PV or HVM
 * @param guestWidth the guest's word width (PV: 32 or 64; HVM guests report W64)
 * @param state      running or paused
 */
public record DomainInfo(String name, int domid, UUID uuid, long p2mSize, int vcpus,
                         GuestType guestType, Width guestWidth, DomainState state) {
    public DomainInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(guestType, "guestType");
        Objects.requireNonNull(guestWidth, "guestWidth");
        Objects.requireNonNull(state, "state");
    }

    /** The shape of this domain, as an incoming migration needs it. */
    public DomainShape shape() {
        return new DomainShape(name, uuid, p2mSize, vcpus, guestType, guestWidth);
    }
}
