package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;

/**
 * The toolstack half of a migration that the Xen backend leaves to libxl ({@link LibXl}), as {@code xl migrate}
 * does: the guest's configuration, the cooperative suspend before the final round and the cooperative resume
 * after a failure, building the incoming guest from a libxl v2 stream, rename, unpause, destroy. Page transfer
 * and dirty tracking stay the backend's own. An interface so that the backend's use of it can be tested
 * without Xen.
 *
 * <p>Calls block the calling thread until the operation ends; implementations are safe for concurrent use.
 */
interface Toolstack extends AutoCloseable {

    /** The running domain's configuration as libxl's JSON. */
    String configJson(int domid) throws HypervisorException;

    /** Cooperative suspend: xenstore {@code control/shutdown} = {@code suspend}, then wait for the suspended state. */
    void suspendOnly(int domid) throws HypervisorException;

    /** Resumes a suspended domain; {@code suspendCancel}: the guest sees its suspend cancelled and goes on. */
    void resume(int domid, boolean suspendCancel) throws HypervisorException;

    void unpause(int domid) throws HypervisorException;

    /** Renames the domain, only while it is still called {@code oldName}. */
    void rename(int domid, String oldName, String newName) throws HypervisorException;

    void destroy(int domid) throws HypervisorException;

    /**
     * Builds a new domain called {@code name} from {@code configJson} and the libxl v2 stream read from
     * {@code restoreFd} until its END record; returns its id; the domain is left paused. On failure the
     * toolstack destroys what it built.
     */
    int createRestore(String configJson, String name, int restoreFd) throws HypervisorException;

    @Override
    void close();
}
