package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.protocol.GuestType;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Xen domain, by id. Safe for concurrent use; the parts (dirty log, memory) synchronise their own state.
 *
 * <p>PV guests: pause, resume, destroy, info and the dirty log work; page access and vCPU state need the
 * guest's p2m (PFN→MFN) and Xen's M2P for page-table and context (un)canonicalisation, which this backend
 * does not do yet, so those calls fail with a message saying so.
 */
final class XenDomain implements Domain {

    private static final Logger LOG = LoggerFactory.getLogger(XenDomain.class);

    final XenHypervisor hv;
    final int domid;
    final String name;
    final GuestType guestType;
    /** The shape this domain was built with by {@link XenHypervisor#createForRestore}, or null for an existing domain. */
    final DomainShape restoreShape;
    /** Set while this handle has the domain paused; the last dirty-log fetch then asks Xen for its final view. */
    volatile boolean pausedByUs;
    private volatile boolean destroyed;
    private final XenDirtyLog dirtyLog;
    private final XenGuestMemory memory;
    private final XenPlatformState platform;

    XenDomain(XenHypervisor hv, int domid, String name, GuestType guestType, DomainShape restoreShape) {
        this.hv = hv;
        this.domid = domid;
        this.name = name;
        this.guestType = guestType;
        this.restoreShape = restoreShape;
        this.pausedByUs = restoreShape != null; // built paused
        this.dirtyLog = new XenDirtyLog(this);
        this.memory = new XenGuestMemory(this);
        this.platform = new XenPlatformState(this);
    }

    /** The one message for what PV guests cannot do here yet. */
    static HypervisorException pvUnsupported(String operation, String domain, String what) {
        return new HypervisorException(operation, domain, what + " is not supported by the xen backend yet (PV guests need"
                + " p2m/M2P translation and page-table canonicalisation); migrate HVM guests, or use --backend sim");
    }

    void requireHvm(String operation, String what) throws HypervisorException {
        if (guestType != GuestType.HVM) {
            throw pvUnsupported(operation, name, what);
        }
    }

    void requireAlive(String operation) throws HypervisorException {
        if (destroyed) {
            throw new HypervisorException(operation, name, "the domain was destroyed through this handle");
        }
    }

    @Override
    public DomainInfo info() throws HypervisorException {
        requireAlive("info");
        var raw = hv.rawInfo(domid)
                .orElseThrow(() -> new HypervisorException("info", name, "domain id " + domid + " no longer exists"));
        DomainInfo info = hv.describe(raw);
        if (restoreShape != null && info.p2mSize() < restoreShape.p2mSize()) {
            // a domain being restored is populated as pages arrive; its p2m is the incoming shape's
            return new DomainInfo(info.name(), info.domid(), info.uuid(), restoreShape.p2mSize(), info.vcpus(),
                    info.guestType(), restoreShape.guestWidth(), info.state());
        }
        return info;
    }

    @Override
    public void pause() throws HypervisorException {
        requireAlive("pause");
        hv.ctrl.domainPause(domid);
        pausedByUs = true;
        LOG.info("event=domain_paused backend=xen domain={} domid={}", name, domid);
    }

    @Override
    public void resume() throws HypervisorException {
        requireAlive("resume");
        hv.ctrl.domainUnpause(domid);
        pausedByUs = false;
        LOG.info("event=domain_resumed backend=xen domain={} domid={}", name, domid);
    }

    @Override
    public void destroy() throws HypervisorException {
        requireAlive("destroy");
        dirtyLog.release();
        hv.ctrl.domainDestroy(domid);
        destroyed = true;
        memory.release();
        hv.store.remove("/local/domain/" + domid);
        LOG.info("event=domain_destroyed backend=xen domain={} domid={}", name, domid);
    }

    @Override
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public PlatformState platform() {
        return platform;
    }

    /** No throttle: Xen's scheduler caps could provide one later. */
    @Override
    public Optional<Throttle> throttle() {
        return Optional.empty();
    }

    /** p2m_size: the restore shape's, or {@code xc_domain_maximum_gpfn + 1}. */
    long p2mSize() throws HypervisorException {
        return restoreShape != null ? restoreShape.p2mSize() : hv.ctrl.domainMaximumGpfn(domid) + 1;
    }
}
