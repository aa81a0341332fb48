package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.RecordException;
import java.lang.foreign.MemorySegment;

/**
 * Verify mode on the destination, for either stream format: each page the source resends after its last
 * round is compared with the copy already in guest memory, and the differences are counted. Owned by
 * the thread that applies the stream.
 */
final class VerifyTally {

    private long mismatches;
    private long firstMismatchPfn = -1;

    /** Compares the resent page {@code got} with the domain's page {@code pfn}. */
    void compare(Domain domain, long pfn, MemorySegment got) throws HypervisorException {
        try (GuestMemory.PageMapping m = domain.memory().mapForRead(new long[] {pfn}, 0, 1)) {
            MemorySegment have = m.type(0).hasData() ? m.page(0) : null;
            if ((have == null || have.mismatch(got) != -1) && mismatches++ == 0) {
                firstMismatchPfn = pfn;
            }
        }
    }

    /** Fails, naming the stream item and offset, when any resent page differed. */
    void check(String item, long code, long offset) throws RecordException {
        if (mismatches > 0) {
            throw new RecordException(item, code, offset, "verify: " + mismatches
                    + " pages differ from the first copy (first pfn 0x" + Long.toHexString(firstMismatchPfn) + ")");
        }
    }
}
