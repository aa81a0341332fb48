package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.Throttle;

/**
 * Takes {@code percent} of every 10 ms vCPU window away: a vCPU runs for {@code (100 - percent)}% of
 * each window and sleeps for the rest, so the guest makes {@code (100 - percent)}% of its progress. A
 * CPU-bound workload is cut by the window's deadline; a rate-limited one (dirty rate R at full speed)
 * gets {@code (100 - percent)}% of its page budget, since a guest's writes come from its own work.
 */
final class SimThrottle implements Throttle {

    private final SimDomain domain;

    SimThrottle(SimDomain domain) {
        this.domain = domain;
    }

    @Override
    public void setPercent(int percent) throws HypervisorException {
        if (percent < 0 || percent > MAX_PERCENT) {
            throw new HypervisorException("throttle", domain.name(), "percent " + percent + " outside 0.." + MAX_PERCENT);
        }
        domain.stateLock().lock();
        try {
            domain.checkAlive("throttle");
            int old = domain.meta().throttlePercent;
            domain.setThrottlePercent(percent);
            try {
                domain.persist("throttle");
            } catch (HypervisorException e) {
                domain.setThrottlePercent(old);
                throw e;
            }
        } finally {
            domain.stateLock().unlock();
        }
    }

    @Override
    public int percent() {
        return domain.throttlePercent();
    }
}
