package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;
import java.util.Optional;

/**
 * The port to libxenstore: where Xen keeps domain names ({@code /local/domain/<domid>/name}); the
 * hypervisor itself only knows ids and UUIDs. Safe for concurrent use.
 */
interface XenStore extends AutoCloseable {

    /** {@code xs_read} outside a transaction; empty when the node does not exist. */
    Optional<String> read(String path) throws HypervisorException;

    /** {@code xs_write} outside a transaction. */
    void write(String path, String value) throws HypervisorException;

    /** {@code xs_rm} outside a transaction; a missing node is not an error. */
    void remove(String path) throws HypervisorException;

    /** {@code xs_close}. */
    @Override
    void close() throws HypervisorException;
}
