package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Xen log-dirty mode: {@code xc_shadow_control(ENABLE_LOGDIRTY / OFF)} and
 * {@code xc_logdirty_control(CLEAN / PEEK)}. Xen fills a hypercall buffer (libxc 4.17 takes no other
 * memory), which is then copied into the caller's {@link DirtyBitmap}; both use the same layout (bit
 * {@code pfn % 64} of little-endian word {@code pfn / 64}). All state is guarded by {@code this}.
 */
final class XenDirtyLog implements DirtyLog {

    private static final Logger LOG = LoggerFactory.getLogger(XenDirtyLog.class);
    private static final long PAGE = 4096;
    /** EOPNOTSUPP: Xen's answer to log-dirty for a PV guest when it was built without shadow paging. */
    static final int EOPNOTSUPP = 95;
    /** Why a PV guest cannot be moved live on such a Xen, and what the operator can do instead (one line). */
    static final String PV_LOGDIRTY_UNSUPPORTED = "live migration of a PV guest is not possible on this host: PV log-dirty"
            + " needs shadow paging and this Xen was built without it (the hypervisor answered EOPNOTSUPP);"
            + " the guest keeps running here; alternatives: save and restore it (not live), or run it as a PVH or HVM guest";

    private final XenDomain domain;
    /** Guarded by this: the hypercall buffer while enabled, else null. */
    private XenCtrl.HypercallBuffer buffer;
    /** Guarded by this: PFNs covered, fixed at enable. */
    private long pages;
    /** Guarded by this: Xen's statistics of the last CLEAN/PEEK. */
    private int lastFaultCount;
    private int lastDirtyCount;

    XenDirtyLog(XenDomain domain) {
        this.domain = domain;
    }

    @Override
    public synchronized void enable() throws HypervisorException {
        domain.requireAlive("dirtyLog.enable");
        if (buffer != null) {
            throw new HypervisorException("dirtyLog.enable", domain.name, "log-dirty mode is already enabled");
        }
        long p2m = domain.p2mSize();
        long bitmapBytes = ((p2m + 63) >>> 6) * 8;
        int bufferPages = (int) ((bitmapBytes + PAGE - 1) / PAGE);
        XenCtrl.HypercallBuffer buf = domain.hv.ctrl.hypercallBufferAllocPages(bufferPages);
        try {
            try {
                domain.hv.ctrl.shadowControl(domain.domid, XenLayouts.XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 0);
            } catch (NativeCallException first) {
                if (pvWithoutLogDirty(first)) {
                    throw first; // no retry: turning shadow mode off fails too (EINVAL, measured on Debian's Xen 4.17)
                }
                // As xc_domain_save: a domain left in shadow mode refuses; turn it off and retry once.
                LOG.info("event=logdirty_retry backend=xen domain={} domid={} error=\"{}\"", domain.name, domain.domid, first.getMessage());
                domain.hv.ctrl.shadowControl(domain.domid, XenLayouts.XEN_DOMCTL_SHADOW_OP_OFF, 0);
                domain.hv.ctrl.shadowControl(domain.domid, XenLayouts.XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, 0);
            }
        } catch (NativeCallException e) {
            domain.hv.ctrl.hypercallBufferFreePages(buf);
            if (pvWithoutLogDirty(e)) {
                throw new HypervisorException("dirtyLog.enable", domain.name, PV_LOGDIRTY_UNSUPPORTED, e);
            }
            throw e;
        } catch (HypervisorException | RuntimeException e) {
            domain.hv.ctrl.hypercallBufferFreePages(buf);
            throw e;
        }
        buffer = buf;
        pages = p2m;
        LOG.info("event=logdirty_enabled backend=xen domain={} domid={} pages={}", domain.name, domain.domid, p2m);
    }

    /** Xen's answer to log-dirty for a PV guest when it was built without shadow paging. */
    private boolean pvWithoutLogDirty(NativeCallException e) {
        return e.errno() == EOPNOTSUPP && domain.guestType == GuestType.PV;
    }

    @Override
    public long fetchAndClear(DirtyBitmap into) throws HypervisorException {
        return read(XenLayouts.XEN_DOMCTL_SHADOW_OP_CLEAN, "dirtyLog.fetchAndClear", into);
    }

    @Override
    public long peek(DirtyBitmap into) throws HypervisorException {
        return read(XenLayouts.XEN_DOMCTL_SHADOW_OP_PEEK, "dirtyLog.peek", into);
    }

    private synchronized long read(int sop, String operation, DirtyBitmap into) throws HypervisorException {
        domain.requireAlive(operation);
        if (buffer == null) {
            throw new HypervisorException(operation, domain.name, "log-dirty mode is not enabled");
        }
        if (into.size() < pages) {
            throw new HypervisorException(operation, domain.name, "bitmap covers " + into.size() + " PFNs, the domain has " + pages);
        }
        // With the guest paused this is the final round: Xen then also reports pages it mapped writably.
        int mode = domain.pausedByUs ? XenLayouts.XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stats = a.allocate(XenLayouts.XC_SHADOW_OP_STATS);
            long done = domain.hv.ctrl.logdirtyControl(domain.domid, sop, buffer, pages, mode, stats);
            if (done != pages) {
                throw new HypervisorException(operation, domain.name, "xc_logdirty_control processed " + done + " of " + pages + " pages");
            }
            lastFaultCount = stats.get(JAVA_INT, XenLayouts.offset(XenLayouts.XC_SHADOW_OP_STATS, "fault_count"));
            lastDirtyCount = stats.get(JAVA_INT, XenLayouts.offset(XenLayouts.XC_SHADOW_OP_STATS, "dirty_count"));
        }
        long words = (pages + 63) >>> 6;
        into.clear();
        MemorySegment.copy(buffer.data(), 0, into.segment(), 0, words * 8);
        int tail = (int) (pages & 63);
        if (tail != 0) { // bits past p2m_size are not PFNs of this domain
            into.setWord(words - 1, into.word(words - 1) & ((1L << tail) - 1));
        }
        return into.cardinality();
    }

    @Override
    public synchronized void disable() throws HypervisorException {
        domain.requireAlive("dirtyLog.disable");
        if (buffer == null) {
            return;
        }
        try {
            domain.hv.ctrl.shadowControl(domain.domid, XenLayouts.XEN_DOMCTL_SHADOW_OP_OFF, 0);
        } finally {
            release();
        }
        LOG.info("event=logdirty_disabled backend=xen domain={} domid={}", domain.name, domain.domid);
    }

    /** Frees the hypercall buffer (when the domain goes away, Xen drops log-dirty mode itself). */
    synchronized void release() {
        if (buffer != null) {
            domain.hv.ctrl.hypercallBufferFreePages(buffer);
            buffer = null;
        }
    }

    @Override
    public synchronized boolean enabled() {
        return buffer != null;
    }

    /** Xen's {@code dirty_count} of the last CLEAN/PEEK (for logs and tests). */
    synchronized int lastDirtyCount() {
        return lastDirtyCount;
    }

    synchronized int lastFaultCount() {
        return lastFaultCount;
    }
}
