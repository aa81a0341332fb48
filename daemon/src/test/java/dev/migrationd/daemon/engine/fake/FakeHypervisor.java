package dev.migrationd.daemon.engine.fake;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory hypervisor for engine tests: real guest memory (off-heap segments), a real dirty bitmap
 * fed by a writer thread, pause that waits for the writer, throttle. Thread-safe.
 */
public final class FakeHypervisor implements Hypervisor {

    private final String host;
    private final Set<Capability> capabilities;
    private final Map<String, FakeDomain> domains = new ConcurrentHashMap<>();
    private final AtomicInteger nextDomid = new AtomicInteger(1);
    /** A restored domain's first write of this PFN is corrupted (verify-mode tests); -1 = none. */
    public final java.util.concurrent.atomic.AtomicLong corruptPfnOnFirstWrite = new java.util.concurrent.atomic.AtomicLong(-1);
    /** When set, a restored domain's {@code completeRestore()} fails with this message (end-of-restore faults). */
    public volatile String failCompleteRestore;
    /** When set, {@code createForRestore} fails with this problem (a destination that cannot build the domain). */
    public volatile String failCreateForRestore;

    public FakeHypervisor(String host, Set<Capability> capabilities) {
        this.host = host;
        this.capabilities = Set.copyOf(capabilities);
    }

    public FakeHypervisor(String host) {
        this(host, EnumSet.allOf(Capability.class));
    }

    @Override
    public String backend() {
        return "fake-" + host;
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    /** Creates a running domain with every page populated and filled with a per-page pattern. */
    public FakeDomain createRunning(DomainShape shape) throws HypervisorException {
        FakeDomain d = create(shape, false);
        d.fillPattern();
        d.startRunning();
        return d;
    }

    /** Creates a running domain backed by a sparse file mapping (lazily committed): for large guests. */
    public FakeDomain createLarge(DomainShape shape, java.nio.file.Path backing) throws HypervisorException {
        FakeDomain d = new FakeDomain(this, shape, nextDomid.getAndIncrement(), backing);
        if (domains.putIfAbsent(shape.name(), d) != null) {
            d.releaseMemory();
            throw new HypervisorException("create", shape.name(), "name taken");
        }
        d.populateAll();
        d.startRunning();
        return d;
    }

    private FakeDomain create(DomainShape shape, boolean forRestore) throws HypervisorException {
        FakeDomain d = new FakeDomain(this, shape, nextDomid.getAndIncrement(), null);
        if (domains.putIfAbsent(shape.name(), d) != null) {
            d.releaseMemory();
            throw new HypervisorException(forRestore ? "createForRestore" : "create", shape.name(), "a domain with this name exists");
        }
        return d;
    }

    void removed(FakeDomain d) {
        domains.remove(d.name(), d);
    }

    @Override
    public List<DomainInfo> listDomains() throws HypervisorException {
        List<FakeDomain> all = new ArrayList<>(domains.values());
        all.sort(Comparator.comparingInt(FakeDomain::domid));
        List<DomainInfo> out = new ArrayList<>();
        for (FakeDomain d : all) {
            out.add(d.info());
        }
        return out;
    }

    @Override
    public Optional<Domain> findDomain(String name) {
        return Optional.ofNullable(domains.get(name));
    }

    /** The fake domain by name (tests). */
    public Optional<FakeDomain> fake(String name) {
        return Optional.ofNullable(domains.get(name));
    }

    @Override
    public Optional<Domain> findDomain(int domid) {
        return domains.values().stream().filter(d -> d.domid() == domid).map(d -> (Domain) d).findFirst();
    }

    @Override
    public Domain createForRestore(DomainShape shape) throws HypervisorException {
        if (!capabilities.contains(Capability.RESTORE)) {
            throw new HypervisorException("createForRestore", shape.name(), "not supported");
        }
        String problem = failCreateForRestore;
        if (problem != null) {
            throw new HypervisorException("createForRestore", shape.name(), problem);
        }
        return create(shape, true);
    }

    /** Names of the domains there are. */
    public Set<String> names() {
        return Set.copyOf(domains.keySet());
    }

    @Override
    public void close() {
        for (FakeDomain d : domains.values()) {
            d.stopWorkload();
        }
    }
}
