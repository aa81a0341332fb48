package dev.migrationd.hypervisor;

/** Whether a domain's vCPUs run. */
public enum DomainState {
    RUNNING,
    PAUSED
}
