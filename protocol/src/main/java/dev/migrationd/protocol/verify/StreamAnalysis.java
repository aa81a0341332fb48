package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.x86.HvmContext;
import java.util.ArrayList;
import java.util.List;

/**
 * What both formats' analyses share: the report they fill, the PV vCPU checks, and the HVM context's record list.
 * Owned by the verifying thread.
 */
abstract sealed class StreamAnalysis permits LegacyAnalysis, V2Analysis {
    /** Bytes handed to the reader at a time. */
    static final int READ_CHUNK = 1 << 16;

    final Report s;
    final PvStateCheck pv;
    /** The last HVM context's records, in order, HEADER and END included. */
    private final List<String> hvmRecords = new ArrayList<>();

    StreamAnalysis(Report s, String vcpuItem) {
        this.s = s;
        this.pv = new PvStateCheck(vcpuItem);
    }

    /** Notes an HVM context that {@link HvmContext#parse} accepted. */
    final void hvmContext(HvmContext ctx) {
        hvmRecords.clear();
        hvmRecords.add("HEADER");
        for (HvmContext.Entry e : ctx.entries()) {
            hvmRecords.add(e.type() + "[" + e.instance() + "]");
        }
        hvmRecords.add("END");
    }

    /** Adds the facts known only at the end to the report's tail: vCPUs (null: none seen), HVM records, PV limits. */
    final void endTail(Integer vcpus) {
        if (vcpus != null) {
            s.tail("vcpus", vcpus);
        }
        if (!hvmRecords.isEmpty()) {
            s.tail("hvm_context_records", hvmRecords);
        }
        if (pv.overflowed()) {
            s.tail("note", "more than " + PvStateCheck.MAX_TRACKED_TABLES + " page tables: CR3 type not checked");
        }
    }
}
