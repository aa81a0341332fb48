/** The hypervisor interface the engine drives, and its adapters (sim, xen, kvm). */
package dev.migrationd.hypervisor;
