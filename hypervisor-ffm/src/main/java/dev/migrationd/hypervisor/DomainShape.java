package dev.migrationd.hypervisor;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.util.Objects;
import java.util.UUID;

/**
 * What is needed to build an empty domain for a restore: the offer of an incoming migration carries it.
 *
 * @param name       the new domain's name (must be free on this host)
 * @param uuid       identity carried over from the source
 * @param p2mSize    guest PFNs, 1 .. {@link StreamLimits#MAX_P2M_SIZE}
 * @param vcpus      1 .. {@link StreamLimits#XC_SR_MAX_VCPUS}
 * @param guestType  PV or HVM
 * @param guestWidth guest word width
 */
public record DomainShape(String name, UUID uuid, long p2mSize, int vcpus, GuestType guestType, Width guestWidth) {
    public DomainShape {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(guestType, "guestType");
        Objects.requireNonNull(guestWidth, "guestWidth");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("domain name must not be empty");
        }
        if (p2mSize < 1 || p2mSize > StreamLimits.MAX_P2M_SIZE) {
            throw new IllegalArgumentException("p2mSize " + p2mSize + " outside 1.." + StreamLimits.MAX_P2M_SIZE);
        }
        if (vcpus < 1 || vcpus > StreamLimits.XC_SR_MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus " + vcpus + " outside 1.." + StreamLimits.XC_SR_MAX_VCPUS);
        }
    }

    /** Guest memory covered by the p2m, in bytes. */
    public long memoryBytes() {
        return p2mSize * StreamLimits.PAGE_SIZE;
    }

    /** The same shape under another name (a domain built under a temporary name, or renamed on the way). */
    public DomainShape withName(String newName) {
        return new DomainShape(newName, uuid, p2mSize, vcpus, guestType, guestWidth);
    }
}
