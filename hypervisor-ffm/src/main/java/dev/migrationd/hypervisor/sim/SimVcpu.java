package dev.migrationd.hypervisor.sim;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One vCPU: a platform thread ({@code sim-<domain>-vcpu<i>}) that runs the domain's workload in 10 ms
 * windows.
 *
 * <p>Ownership: while it runs, this thread alone writes its three workload registers (in the domain's
 * mapped register file) and, through the workload, guest memory and the dirty log. Each window runs
 * with {@link #gate} held; {@link SimDomain#pause()} clears the run flag and then takes every vCPU's gate
 * once, so when pause returns every window in progress has ended and no new one starts until resume
 * signals {@link #runnable}. The gate is fair, so a pausing thread is not starved by a busy vCPU. Between
 * windows the thread sleeps outside the gate: the throttle's share of each window, and whatever is left
 * once a rate-limited window's pages are written.
 */
final class SimVcpu implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(SimVcpu.class);
    static final long WINDOW_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;

    final int index;
    final ReentrantLock gate = new ReentrantLock(true);
    final Condition runnable = gate.newCondition();
    private final SimDomain domain;
    private final Thread thread;
    /** Fraction of a page carried to the next window (owned by this thread). */
    private double carry;

    SimVcpu(SimDomain domain, int index) {
        this.domain = domain;
        this.index = index;
        this.thread = Thread.ofPlatform().daemon().name("sim-" + domain.name() + "-vcpu" + index).unstarted(this);
    }

    void start() {
        thread.start();
    }

    /** Wakes the thread (after the run or stop flag changed). */
    void signal() {
        gate.lock();
        try {
            runnable.signalAll();
        } finally {
            gate.unlock();
        }
    }

    /** Waits until any window in progress has ended (the caller has cleared the run flag). */
    void barrier() {
        gate.lock();
        gate.unlock();
    }

    void join() throws InterruptedException {
        thread.join();
    }

    private boolean active(SimDomain.RunPlan plan) {
        return plan != null && plan.activeVcpus() > index && plan.pagesPerWindow() != 0;
    }

    @Override
    public void run() {
        try {
            while (true) {
                long windowStart;
                SimDomain.RunPlan plan;
                gate.lockInterruptibly();
                try {
                    while (!domain.stopping && !(domain.running && active(domain.plan))) {
                        runnable.await();
                    }
                    if (domain.stopping) {
                        return;
                    }
                    plan = domain.plan;
                    windowStart = System.nanoTime();
                    runWindow(plan, windowStart);
                } finally {
                    gate.unlock();
                }
                long sleep = windowStart + WINDOW_NANOS - System.nanoTime();
                if (sleep > 0 && !(plan.unthrottled() && domain.throttlePercent() == 0)) {
                    LockSupport.parkNanos(sleep);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("event=vcpu_failed domain={} vcpu={} error=\"{}\"", domain.name(), index, e.toString());
        }
    }

    /** Writes this window's share of pages; called with {@link #gate} held. */
    private void runWindow(SimDomain.RunPlan plan, long windowStart) {
        int throttle = domain.throttlePercent();
        long deadline = windowStart + WINDOW_NANOS * (100 - throttle) / 100;
        long pages;
        if (plan.unthrottled()) {
            pages = Long.MAX_VALUE;
        } else {
            // the throttle slows the guest's progress, so its dirtying too: a guest configured to dirty R
            // bytes/s at full speed dirties R * (100 - throttle)% (as auto-converge slows a real guest whose
            // writes come from its own work); CPU-bound workloads are slowed by the deadline below instead
            double target = plan.pagesPerWindow() * (100 - throttle) / 100.0 + carry;
            pages = (long) target;
            carry = target - pages;
        }
        MemorySegment mem = domain.memorySegment();
        MemorySegment regs = domain.registerFile();
        SimDirtyLog log = domain.dirtyLogImpl();
        WriteJournal journal = domain.journal();
        SimLayout layout = domain.layout();
        long regBase = (long) index * SimDomain.REG_STRIDE;
        long counter = regs.get(LONG, regBase + SimX86.REG_COUNTER * 8L);
        long rng = regs.get(LONG, regBase + SimX86.REG_RNG * 8L);
        long cursor = regs.get(LONG, regBase + SimX86.REG_CURSOR * 8L);
        if (rng == 0) {
            rng = 0x9E3779B97F4A7C15L ^ index;
        }
        long lo = 0;
        long len = plan.workingSetPages();
        if (plan.pattern() == WorkloadSpec.Pattern.SEQUENTIAL) {
            lo = plan.workingSetPages() * index / plan.activeVcpus();
            len = plan.workingSetPages() * (index + 1) / plan.activeVcpus() - lo;
        }
        if (Long.compareUnsigned(cursor, len) >= 0) {
            cursor = Long.remainderUnsigned(cursor, len); // registers are guest state: never trust them
        }
        for (long i = 0; i < pages; i++) {
            if ((i & 31) == 0 && System.nanoTime() >= deadline) {
                carry = 0; // time is up: the rest of this window's share is lost, as on a throttled CPU
                break;
            }
            long ticket = journal != null ? journal.ticket() : 0;
            long pfn;
            switch (plan.pattern()) {
                case RANDOM -> {
                    rng ^= rng << 13;
                    rng ^= rng >>> 7;
                    rng ^= rng << 17;
                    long r = rng * 0x2545F4914F6CDD1DL;
                    long idx = plan.skew() > 0 && (r >>> 11) * 0x1.0p-53 < plan.skew()
                            ? Math.unsignedMultiplyHigh(r * 0x9E3779B97F4A7C15L, plan.hotPages())
                            : Math.unsignedMultiplyHigh(r, len);
                    pfn = layout.dataPfn(idx);
                    mem.set(LONG, (pfn << 12) + ((counter & 511) << 3), counter ^ rng);
                }
                case SEQUENTIAL -> {
                    pfn = layout.dataPfn(lo + cursor);
                    mem.set(LONG, (pfn << 12) + ((counter & 511) << 3), counter);
                    cursor = cursor + 1 == len ? 0 : cursor + 1;
                }
                case AB -> {
                    // page c takes page c-1's byte; page 0 takes the last page's byte + 1: the same memory as
                    // "increment every page in turn", but a step redone after a crash writes the same value
                    pfn = layout.dataPfn(cursor);
                    long prev = layout.dataPfn(cursor == 0 ? len - 1 : cursor - 1) << 12;
                    byte v = mem.get(BYTE, prev);
                    mem.set(BYTE, pfn << 12, cursor == 0 ? (byte) (v + 1) : v);
                    cursor = cursor + 1 == len ? 0 : cursor + 1;
                }
                default -> throw new IllegalStateException("pattern " + plan.pattern());
            }
            log.mark(pfn); // after the store: a fetch that misses this mark is followed by one that sees it
            counter++;
            regs.set(LONG, regBase + SimX86.REG_COUNTER * 8L, counter);
            regs.set(LONG, regBase + SimX86.REG_RNG * 8L, rng);
            regs.set(LONG, regBase + SimX86.REG_CURSOR * 8L, cursor);
            if (journal != null && journal.hasRoom(index)) {
                journal.record(index, pfn, ticket, journal.ticket());
            }
        }
    }
}
