/**
 * {@code sim}: the simulated hypervisor, migrationd's embedded default backend. Guest memory is a file
 * mapped with {@code mmap} through FFM (committed lazily), vCPUs are platform threads that really write
 * it at a configured dirty rate, the dirty log has Xen's log-dirty semantics, and every domain survives a
 * restart of the daemon. {@link dev.migrationd.hypervisor.sim.SimHypervisor} is the entry point;
 * {@link dev.migrationd.hypervisor.sim.IntegrityOracle} checks memory after a move.
 */
package dev.migrationd.hypervisor.sim;
