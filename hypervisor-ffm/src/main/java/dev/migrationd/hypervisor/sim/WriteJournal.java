package dev.migrationd.hypervisor.sim;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Test mode: every vCPU write recorded as (pfn, ticket before the store, ticket after the dirty mark),
 * tickets from one global counter that observers also draw from ({@link #ticket()}), so a test can order
 * writes against fetch-and-clear and pause calls without timing assumptions.
 *
 * <p>Concurrency: vCPU {@code v} alone appends to its arrays; {@link #size(int)} is published with a
 * volatile write after each entry, so a reader sees complete entries below it.
 */
public final class WriteJournal {

    private final AtomicLong clock = new AtomicLong();
    private final long[][] pfn;
    private final long[][] before;
    private final long[][] after;
    private final int[] sizes;
    private final java.util.concurrent.atomic.AtomicIntegerArray published;
    private final int capacity;

    WriteJournal(int vcpus, int capacityPerVcpu) {
        this.capacity = capacityPerVcpu;
        pfn = new long[vcpus][capacityPerVcpu];
        before = new long[vcpus][capacityPerVcpu];
        after = new long[vcpus][capacityPerVcpu];
        sizes = new int[vcpus];
        published = new java.util.concurrent.atomic.AtomicIntegerArray(vcpus);
    }

    /** A ticket from the journal's clock (observers call this around fetches, pauses, resumes). */
    public long ticket() {
        return clock.incrementAndGet();
    }

    /** Whether vCPU {@code v} can record another write. */
    boolean hasRoom(int v) {
        return sizes[v] < capacity;
    }

    /** vCPU {@code v}: record a write; only called when {@link #hasRoom}. */
    void record(int v, long page, long ticketBefore, long ticketAfter) {
        int i = sizes[v];
        pfn[v][i] = page;
        before[v][i] = ticketBefore;
        after[v][i] = ticketAfter;
        sizes[v] = i + 1;
        published.set(v, i + 1);
    }

    public int vcpus() {
        return sizes.length;
    }

    public int size(int v) {
        return published.get(v);
    }

    /** Whether some vCPU ran out of room (later writes were not journalled). */
    public boolean overflowed() {
        for (int v = 0; v < sizes.length; v++) {
            if (published.get(v) >= capacity) {
                return true;
            }
        }
        return false;
    }

    public long pfn(int v, int i) {
        return pfn[v][i];
    }

    public long ticketBefore(int v, int i) {
        return before[v][i];
    }

    public long ticketAfter(int v, int i) {
        return after[v][i];
    }
}
