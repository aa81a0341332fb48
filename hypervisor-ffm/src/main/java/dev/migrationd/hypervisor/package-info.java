/**
 * The hypervisor interface the migration engine drives, with nothing hypervisor-specific leaking
 * through: {@link dev.migrationd.hypervisor.Hypervisor} (domains, restore), {@link dev.migrationd.hypervisor.Domain}
 * (lifecycle), {@link dev.migrationd.hypervisor.DirtyLog}, {@link dev.migrationd.hypervisor.GuestMemory} and
 * {@link dev.migrationd.hypervisor.PlatformState} (vCPU and platform state as bytes in the stream's own formats).
 *
 * <p>Adapters live in sub-packages ({@code sim}, {@code xen}, later {@code kvm}) and are found through
 * {@link dev.migrationd.hypervisor.HypervisorProvider} so that callers never import a concrete adapter.
 */
package dev.migrationd.hypervisor;
