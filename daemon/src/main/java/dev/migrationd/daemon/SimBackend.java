package dev.migrationd.daemon;

import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.daemon.control.SimDomains;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.IntegrityOracle;
import dev.migrationd.hypervisor.sim.SimDomain;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.util.Locale;

/**
 * Adapts the sim backend's extra calls to the control API's {@link SimDomains} port. This composition
 * root is the only daemon class that knows the sim adapter; the engine and the control package do not.
 */
final class SimBackend implements SimDomains {

    /** Working set when the request leaves it at 0. */
    static final double DEFAULT_WORKING_SET = 0.25;

    private final SimHypervisor sim;

    SimBackend(SimHypervisor sim) {
        this.sim = sim;
    }

    @Override
    public DomainInfo create(CreateDomainRequest r) throws HypervisorException {
        GuestType type = switch (r.getGuestType()) {
            case GUEST_TYPE_PV -> GuestType.PV;
            case GUEST_TYPE_UNSPECIFIED, GUEST_TYPE_HVM -> GuestType.HVM;
            case GUEST_TYPE_PVH -> throw new IllegalArgumentException("guest_type: the sim backend has no PVH guests (pv or hvm)");
            case UNRECOGNIZED -> throw new IllegalArgumentException("guest_type: unknown value " + r.getGuestTypeValue());
        };
        Width width = switch (r.getGuestWidthBits()) {
            case 0, 64 -> Width.W64;
            case 32 -> Width.W32;
            default -> throw new IllegalArgumentException("guest_width_bits " + r.getGuestWidthBits() + ": must be 32 or 64");
        };
        SimDomainSpec.Fill fill = switch (r.getFill()) {
            case FILL_UNSPECIFIED, FILL_ZERO -> SimDomainSpec.Fill.ZERO;
            case FILL_RANDOM -> SimDomainSpec.Fill.RANDOM;
            case UNRECOGNIZED -> throw new IllegalArgumentException("fill: unknown value " + r.getFillValue());
        };
        WorkloadSpec.Pattern pattern = switch (r.getWorkload().getPattern()) {
            case WRITE_PATTERN_UNSPECIFIED, WRITE_PATTERN_RANDOM -> WorkloadSpec.Pattern.RANDOM;
            case WRITE_PATTERN_SEQUENTIAL -> WorkloadSpec.Pattern.SEQUENTIAL;
            case WRITE_PATTERN_AB -> WorkloadSpec.Pattern.AB;
            case UNRECOGNIZED -> throw new IllegalArgumentException("workload.pattern: unknown value "
                    + r.getWorkload().getPatternValue());
        };
        long rate = r.getWorkload().getDirtyRateBytesPerSecond();
        if (rate < 0) {
            throw new IllegalArgumentException("workload.dirty_rate_bytes_per_second is too large");
        }
        double ws = r.getWorkload().getWorkingSetFraction() == 0 ? DEFAULT_WORKING_SET : r.getWorkload().getWorkingSetFraction();
        WorkloadSpec workload = WorkloadSpec.of(rate, ws, r.getWorkload().getSkew(), pattern);
        SimDomain d = sim.create(new SimDomainSpec(r.getName(), r.getMemoryBytes(), r.getVcpus() == 0 ? 1 : r.getVcpus(),
                type, width, fill, workload, false));
        return d.info();
    }

    @Override
    public void destroy(String name) throws HypervisorException {
        sim.domain(name).destroy();
    }

    /** Pauses a running domain for a stable reading (hash, a-b, counter), then resumes it. */
    @Override
    public DomainDetails inspect(String name) throws HypervisorException {
        SimDomain d = sim.simDomain(name);
        boolean wasRunning = d.info().state() == dev.migrationd.hypervisor.DomainState.RUNNING;
        if (wasRunning) {
            d.pause();
        }
        try {
            DomainDetails.Builder b = DomainDetails.newBuilder()
                    .setMemoryHash(String.format(Locale.ROOT, "%016x", d.memoryHash()))
                    .setWorkloadCounter(d.workloadCounter());
            if (d.workload().pattern() == WorkloadSpec.Pattern.AB) {
                IntegrityOracle.AbResult ab = d.checkAb();
                b.setAbChecked(true).setAbOk(ab.ok()).setAbDetail(ab.message());
            }
            return b.build();
        } finally {
            if (wasRunning) {
                d.resume();
            }
        }
    }
}
