package dev.migrationd.protocol.verify;

import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.PvVcpuContext;
import java.util.HashMap;
import java.util.Map;

/**
 * What Xen's receiver checks in a PV guest's vCPU contexts (docs/wire-format-legacy.md §8.1):
 * the CR3 PFN is below p2m_size and was sent as a page table of the guest's top level (L4 for 64-bit, L3 for
 * PAE); vcpu0's start_info PFN (rdx) and the GDT frames in use are below p2m_size and are not page tables;
 * {@code gdt_ents} ≤ 8192. Page types are tracked only for page-table pages (bounded, see
 * {@link #MAX_TRACKED_TABLES}). Owned by the thread reading the stream.
 */
final class PvStateCheck {
    /** Most page-table PFNs remembered; beyond it the CR3 type check is skipped (and reported). */
    static final int MAX_TRACKED_TABLES = 1 << 20;
    /** Xen's limit on {@code gdt_ents}. */
    static final long MAX_GDT_ENTS = 8192;
    private static final int GDT_ENTS_PER_FRAME = 512;

    private final String item;
    private final Map<Long, PageType> tables = new HashMap<>();
    private boolean overflow;

    PvStateCheck(String item) {
        this.item = item;
    }

    /** Records the type a PFN was (last) sent with. */
    void page(long pfn, PageType type) {
        if (type.isPageTable()) {
            if (tables.size() < MAX_TRACKED_TABLES || tables.containsKey(pfn)) {
                tables.put(pfn, type);
            } else {
                overflow = true;
            }
        } else if (type.hasData()) {
            tables.remove(pfn);
        }
    }

    boolean overflowed() {
        return overflow;
    }

    /** Checks one vCPU context (canonicalised, exactly the width's size) found at stream offset {@code at}. */
    void vcpu(int vcpuId, byte[] context, Width guestWidth, long p2mSize, long at) throws RecordException {
        PvVcpuContext c = PvVcpuContext.wrap(guestWidth, context);
        int top = guestWidth == Width.W64 ? 4 : 3;
        long cr3 = c.cr3Pfn();
        if (cr3 >= p2mSize) {
            throw bad(at, vcpuId, "CR3 pfn 0x" + Long.toHexString(cr3) + " is beyond p2m_size 0x" + Long.toHexString(p2mSize));
        }
        PageType t = tables.get(cr3);
        if (!overflow && (t == null || t.level() != top)) {
            throw bad(at, vcpuId, "CR3 pfn 0x" + Long.toHexString(cr3) + " was not sent as an L" + top
                    + " page table" + (t == null ? "" : " (it is " + t + ")"));
        }
        if (vcpuId == 0) {
            notTable(at, vcpuId, "start_info pfn (rdx)", c.rdx(), p2mSize);
        }
        long gdtEnts = c.gdtEnts();
        if (gdtEnts > MAX_GDT_ENTS) {
            throw bad(at, vcpuId, "gdt_ents " + gdtEnts + " exceeds " + MAX_GDT_ENTS);
        }
        for (int j = 0; j < (gdtEnts + GDT_ENTS_PER_FRAME - 1) / GDT_ENTS_PER_FRAME; j++) {
            notTable(at, vcpuId, "gdt_frames[" + j + "]", c.gdtFrame(j), p2mSize);
        }
    }

    private void notTable(long at, int vcpuId, String what, long pfn, long p2mSize) throws RecordException {
        if (pfn >= p2mSize) {
            throw bad(at, vcpuId, what + " 0x" + Long.toHexString(pfn) + " is beyond p2m_size 0x"
                    + Long.toHexString(p2mSize));
        }
        if (tables.containsKey(pfn)) {
            throw bad(at, vcpuId, what + " 0x" + Long.toHexString(pfn) + " is a page table (" + tables.get(pfn) + ")");
        }
    }

    private RecordException bad(long at, int vcpuId, String problem) {
        return new RecordException(item, 0, at, "vcpu " + vcpuId + ": " + problem);
    }
}
