package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;
import java.lang.foreign.MemorySegment;

/**
 * The port to libxenforeignmemory (Xen 4.17): mapping another domain's pages into this process. Safe for
 * concurrent use.
 */
interface ForeignMemory extends AutoCloseable {

    /**
     * {@code xenforeignmemory_map}: maps {@code pages} frames listed in {@code pfns} (xen_pfn_t[]) of
     * {@code domid} with {@code prot}; {@code errs} (int[]) receives a per-page error (0 or a negative
     * errno). Returns the mapped region, {@code pages × 4096} bytes. A page whose error is non-zero is not
     * accessible.
     */
    MemorySegment map(int domid, int prot, long pages, MemorySegment pfns, MemorySegment errs) throws HypervisorException;

    /** {@code xenforeignmemory_unmap}. */
    void unmap(MemorySegment region, long pages) throws HypervisorException;

    /** {@code xenforeignmemory_close}. */
    @Override
    void close() throws HypervisorException;
}
