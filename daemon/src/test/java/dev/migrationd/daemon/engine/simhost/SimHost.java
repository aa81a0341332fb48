package dev.migrationd.daemon.engine.simhost;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.sim.SimDomain;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * The engine tests' host: the sim backend itself (guest memory in files under the test's directory, vCPU
 * threads that dirty it, Xen's log-dirty semantics), seen through {@link SimGuest}s that count what the
 * engine did to a domain and take snapshots at its pause and first start, plus the faults a test switches
 * on. A host may offer fewer capabilities than the sim (a backend without throttling, or source-only).
 *
 * <p>Thread-safe: the engines' migration threads and the test's thread use it at once.
 */
public final class SimHost implements Hypervisor {

    private final SimHypervisor sim;
    private final Set<Capability> capabilities;
    /** The probe of each live sim domain (sim domains are compared by identity). */
    private final Map<SimDomain, SimGuest> guests = new ConcurrentHashMap<>();
    /** A restored domain's first write of this PFN is corrupted (verify-mode tests); -1 = none. */
    public final AtomicLong corruptPfnOnFirstWrite = new AtomicLong(-1);
    /** When set, a restored domain's {@code completeRestore()} fails with this message (end-of-restore faults). */
    public volatile String failCompleteRestore;
    /** When set, every {@code resume()} of a domain of this host fails with this message (until cleared). */
    public volatile String failResume;
    /** When set, every {@code destroy()} of a domain of this host fails with this message (until cleared). */
    public volatile String failDestroy;
    /** When set, {@code createForRestore} fails with this problem before the sim builds anything (a destination
     *  that cannot build the domain, e.g. its state directory cannot be read). */
    public volatile String failCreateForRestore;

    private SimHost(SimHypervisor sim, Set<Capability> capabilities) {
        this.sim = sim;
        this.capabilities = Set.copyOf(capabilities);
    }

    /** The sim backend on {@code stateDir} (domains under {@code stateDir/sim}), offering {@code capabilities}. */
    public static SimHost open(Path stateDir, Set<Capability> capabilities) throws HypervisorException {
        SimHypervisor sim = SimHypervisor.open(stateDir);
        Set<Capability> offered = EnumSet.noneOf(Capability.class);
        offered.addAll(capabilities);
        offered.retainAll(sim.capabilities());
        return new SimHost(sim, offered);
    }

    public static SimHost open(Path stateDir) throws HypervisorException {
        return open(stateDir, EnumSet.allOf(Capability.class));
    }

    /**
     * A running, idle guest of {@code pages} pages whose data pages are random, with a platform state in which
     * every field is distinct (TSC, HVM params beyond the ones the sim sets, PV XSAVE areas), so that a field
     * lost or swapped on the way shows in a snapshot.
     */
    public SimGuest createRunning(String name, GuestType type, long pages, int vcpus) throws HypervisorException {
        SimDomain d = sim.create(new SimDomainSpec(name, pages * StreamLimits.PAGE_SIZE, vcpus, type, Width.W64,
                SimDomainSpec.Fill.RANDOM, WorkloadSpec.IDLE, true));
        SimGuest g = probe(d, false);
        PlatformState p = d.platform();
        p.setTscInfo(new TscInfo(1, 123456789L, 2_400_000, 7));
        SplittableRandom r = new SplittableRandom(d.uuid().getLeastSignificantBits());
        if (type == GuestType.HVM) {
            p.setHvmParam(HvmParamIndex.HVM_PARAM_IDENT_PT, 0xFEFFC000L);
            p.setHvmParam(HvmParamIndex.HVM_PARAM_VIRIDIAN, 0x1FL);
        } else {
            for (int v = 0; v < vcpus; v++) {
                byte[] xsave = new byte[16 + 576]; // xcr0, xcr0_accum, a legacy-sized area
                for (int i = 0; i < xsave.length; i++) {
                    xsave[i] = (byte) r.nextInt();
                }
                g.platform().setPvXsave(v, xsave);
            }
        }
        d.resume();
        return g;
    }

    /** The probe of the domain called {@code name}. */
    public Optional<SimGuest> guest(String name) throws HypervisorException {
        Optional<Domain> d = sim.findDomain(name);
        return d.isEmpty() ? Optional.empty() : Optional.of(probe((SimDomain) d.get(), false));
    }

    /** Names of the domains there are. */
    public Set<String> names() throws HypervisorException {
        return sim.listDomains().stream().map(DomainInfo::name).collect(Collectors.toUnmodifiableSet());
    }

    private SimGuest probe(SimDomain d, boolean restored) throws HypervisorException {
        SimGuest g = guests.get(d);
        if (g == null) {
            g = new SimGuest(this, d, restored);
            SimGuest raced = guests.putIfAbsent(d, g);
            g = raced == null ? g : raced;
        }
        return g;
    }

    void forget(SimGuest g, SimDomain d) {
        guests.remove(d, g);
    }

    @Override
    public String backend() {
        return sim.backend();
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    @Override
    public List<DomainInfo> listDomains() throws HypervisorException {
        return sim.listDomains();
    }

    @Override
    public Optional<Domain> findDomain(String name) throws HypervisorException {
        return guest(name).map(Domain.class::cast);
    }

    @Override
    public Optional<Domain> findDomain(int domid) throws HypervisorException {
        Optional<Domain> d = sim.findDomain(domid);
        return d.isEmpty() ? Optional.empty() : Optional.of(probe((SimDomain) d.get(), false));
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
        return probe((SimDomain) sim.createForRestore(shape), true);
    }

    @Override
    public void close() throws HypervisorException {
        sim.close();
    }
}
