package dev.migrationd.daemon.control;

import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.hypervisor.DomainInfo;

/**
 * The sim backend's extra calls (create with a workload, destroy, inspect memory), as the control API
 * needs them. The daemon's composition root adapts the sim backend to this port; the control package
 * imports no hypervisor adapter. Absent on other backends: those calls answer UNIMPLEMENTED.
 */
public interface SimDomains {

    /** Creates and starts a simulated domain; fails with a one-line exception on a bad spec or a taken name. */
    DomainInfo create(CreateDomainRequest request) throws Exception;

    /** Destroys a domain (any domain of the sim host). */
    void destroy(String name) throws Exception;

    /** Memory hash, workload counter and a-b verdict ({@link DomainDetails#getDomain()} is filled by the caller). */
    DomainDetails inspect(String name) throws Exception;
}
