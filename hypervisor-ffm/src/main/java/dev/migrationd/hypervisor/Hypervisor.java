package dev.migrationd.hypervisor;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;

/**
 * One host's hypervisor, as the migration engine sees it.
 *
 * <p>Thread-safety: implementations are safe for concurrent use; the daemon opens one per process.
 * Exclusive use of a domain during a migration is the engine's rule, not the hypervisor's.
 */
public interface Hypervisor extends AutoCloseable {

    /** The backend name, e.g. {@code "sim"} or {@code "xen"}. */
    String backend();

    /** The optional capabilities this backend offers (see {@link Capability}). */
    Set<Capability> capabilities();

    /** All domains on this host, in domain-id order. */
    List<DomainInfo> listDomains() throws HypervisorException;

    /** The domain with this name, if any. Names are unique per host. */
    Optional<Domain> findDomain(String name) throws HypervisorException;

    /** The domain with this id, if any. */
    Optional<Domain> findDomain(int domid) throws HypervisorException;

    /** The domain with this name; a {@link HypervisorException} naming it when there is none. */
    default Domain domain(String name) throws HypervisorException {
        return findDomain(name).orElseThrow(
                () -> new HypervisorException("lookup", name, "no such domain"));
    }

    /**
     * Creates an empty, PAUSED domain of the given shape for a restore or an incoming migration.
     * Memory is not populated: pages arrive through {@link GuestMemory#writePage}. The caller owns the
     * result and must {@link Domain#destroy()} it if the restore fails, so nothing half-built is left.
     *
     * @throws HypervisorException when the name is taken, the shape is invalid or memory is short
     */
    Domain createForRestore(DomainShape shape) throws HypervisorException;

    /**
     * Starts building an incoming guest through the host's toolstack, which reads the save stream itself (Xen:
     * libxl's {@code libxl_domain_create_restore} on a libxl v2 stream), rather than the engine writing pages
     * into a {@link #createForRestore} domain. Offered with {@link Capability#STREAM_RESTORE}. The domain is
     * built under {@code name} and left PAUSED when the stream ends ({@link StreamRestore#finish}).
     *
     * @param uuid   the guest's UUID as its configuration gives it, or null when the configuration names none (an
     *               xl save file's; the toolstack then makes one)
     * @param config the guest's configuration as its source's toolstack described it (validated)
     * @throws HypervisorException when the name is taken or the toolstack cannot start the build
     */
    default StreamRestore restoreFromStream(String name, UUID uuid, ToolstackConfig config) throws HypervisorException {
        throw new HypervisorException("restoreFromStream", name, "this backend has no toolstack that reads a save stream");
    }

    /**
     * For a backend that keeps guest memory on disk: the bytes free there for new guests (statvfs), so that
     * an incoming migration can be refused before anything is allocated. Empty for a backend whose guest
     * memory is host RAM (the hypervisor refuses a domain it cannot build).
     */
    default OptionalLong freeSpaceForRestore() throws HypervisorException {
        return OptionalLong.empty();
    }

    /** Releases the backend's handles. Domains keep running (they belong to the host, not to us). */
    @Override
    void close() throws HypervisorException;
}
