package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.DirtyLog;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.GuestType;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Xen domain, by id. Safe for concurrent use; the parts (dirty log, memory) synchronise their own state.
 *
 * <p>PV guests: reading memory and vCPU state goes through a {@link PvSource} (M2P, shared info and the
 * guest's p2m, mapped on first use and held until {@link #resume()} or {@link #destroy()}); a PV domain built
 * for a restore keeps a {@link PvRestore} (new p2m, page types, deferred state).
 */
final class XenDomain implements Domain {

    private static final Logger LOG = LoggerFactory.getLogger(XenDomain.class);

    final XenHypervisor hv;
    final int domid;
    /** The domain's name as this handle knows it ({@link #rename} changes it). */
    volatile String name;
    final GuestType guestType;
    /** The shape this domain was built with by {@link XenHypervisor#createForRestore}, or null for an existing domain. */
    final DomainShape restoreShape;
    /** Set while this handle has the domain paused; the last dirty-log fetch then asks Xen for its final view. */
    volatile boolean pausedByUs;
    private volatile boolean destroyed;
    /** Set when a failed PV restore step destroyed the domain; a later {@link #destroy()} is then a no-op. */
    private volatile boolean destroyedAfterFailure;
    /** Guarded by this: the PV views of an existing guest, opened on first use. */
    private PvSource pvSource;
    /** The PV restore state, for a PV domain built by createForRestore; null otherwise. */
    final PvRestore pvRestore;
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
        this.pvRestore = restoreShape != null && guestType == GuestType.PV
                ? new PvRestore(this, restoreShape.guestWidth(), restoreShape.p2mSize()) : null;
        this.dirtyLog = new XenDirtyLog(this);
        this.memory = new XenGuestMemory(this);
        this.platform = new XenPlatformState(this);
    }

    void requireHvm(String operation, String what) throws HypervisorException {
        if (guestType != GuestType.HVM) {
            throw new HypervisorException(operation, name, what + " does not exist: the guest is PV");
        }
    }

    /** Work done with the PV views. */
    @FunctionalInterface
    interface PvAction<T> {
        T apply(PvSource source) throws HypervisorException;
    }

    /**
     * Runs {@code action} with the PV views of this (existing, PV) guest, mapping them on first use. It runs
     * under this handle's lock, so that {@link #resume()} or {@link #destroy()} on another thread cannot unmap
     * the views while they are read.
     */
    synchronized <T> T withPvSource(String operation, PvAction<T> action) throws HypervisorException {
        return action.apply(pvSource(operation));
    }

    private synchronized PvSource pvSource(String operation) throws HypervisorException {
        requireAlive(operation);
        if (guestType != GuestType.PV) {
            throw new HypervisorException(operation, name, "only a PV guest has a p2m and shared info to map");
        }
        if (restoreShape != null) {
            throw new HypervisorException(operation, name, "a domain being restored is written, not read");
        }
        if (pvSource == null) {
            var raw = hv.rawInfo(domid).orElseThrow(
                    () -> new HypervisorException(operation, name, "domain id " + domid + " no longer exists"));
            pvSource = PvSource.open(this, hv.describe(raw).guestWidth(), raw.sharedInfoFrame());
        }
        return pvSource;
    }

    /** Unmaps the PV views; the next PV read maps them again. */
    synchronized void releasePvSource() {
        if (pvSource != null) {
            pvSource.close();
            pvSource = null;
        }
    }

    /** A PV restore step failed: destroy the domain now, keeping {@code cause} as the error. */
    void destroyAfterFailedRestore(Exception cause) {
        if (destroyed) {
            return;
        }
        dirtyLog.release();
        hv.destroyQuietly(domid, name, cause);
        destroyed = true;
        destroyedAfterFailure = true;
        memory.release();
        if (pvRestore != null) {
            pvRestore.release();
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
                    info.guestType(), restoreShape.guestWidth(), info.state(), info.memoryBytes(), info.pvh());
        }
        return info;
    }

    /**
     * A PV or PVH guest with libxl at hand is suspended cooperatively (libxl_domain_suspend_only: xenstore
     * {@code control/shutdown} = {@code suspend}, then its suspended state), as {@code xl save} and {@code xl
     * migrate} do before the final round: only a guest that suspended itself reconnects its console, xenstore and
     * event channels where it is rebuilt, and only a PV guest that made its suspend hypercall has its start_info
     * frame in vCPU 0's rdx (a guest that was merely paused has whatever it was computing there). Anything else
     * (HVM guests, any guest without libxl) is paused.
     */
    @Override
    public void pause() throws HypervisorException {
        requireAlive("pause");
        Toolstack ts = cooperative();
        if (ts != null) {
            ts.suspendOnly(domid);
            pausedByUs = true;
            LOG.info("event=domain_suspended backend=xen domain={} domid={} how=libxl_domain_suspend_only", name, domid);
            return;
        }
        hv.ctrl.domainPause(domid);
        pausedByUs = true;
        LOG.info("event=domain_paused backend=xen domain={} domid={}", name, domid);
    }

    /** The toolstack when this is an existing PV or PVH guest and libxl is available, else null. */
    private Toolstack cooperative() throws HypervisorException {
        if (restoreShape != null || hv.toolstack == null) {
            return null;
        }
        if (guestType == GuestType.PV) {
            return hv.toolstack;
        }
        var raw = hv.rawInfo(domid).orElseThrow(() -> new HypervisorException("info", name, "domain id " + domid + " no longer exists"));
        return raw.pvh() ? hv.toolstack : null;
    }

    @Override
    public Optional<ToolstackConfig> toolstackConfig() throws HypervisorException {
        requireAlive("toolstackConfig");
        Toolstack ts = cooperative();
        if (ts == null) {
            return Optional.empty();
        }
        String json = ts.configJson(domid);
        String problem = ToolstackConfig.problem(json);
        if (problem != null) {
            throw new HypervisorException("libxl_domain_config_to_json", name, "libxl's configuration " + problem);
        }
        return Optional.of(new ToolstackConfig(json));
    }

    @Override
    public void rename(String newName) throws HypervisorException {
        requireAlive("rename");
        if (hv.toolstack == null) {
            Domain.super.rename(newName);
        }
        String old = name;
        hv.toolstack.rename(domid, old, newName);
        name = newName;
        LOG.info("event=domain_renamed backend=xen domid={} from={} to={}", domid, old, newName);
    }

    @Override
    public void completeRestore() throws HypervisorException {
        requireAlive("completeRestore");
        if (pvRestore != null) {
            pvRestore.finish(); // idempotent: a no-op when the state setters already ran the end-of-restore steps
        }
    }

    /**
     * Unpauses; a guest that suspended itself ({@link #pause}) is resumed cooperatively instead
     * (libxl_domain_resume with suspend_cancel: the guest sees its suspend cancelled and goes on where it was).
     */
    @Override
    public void resume() throws HypervisorException {
        requireAlive("resume");
        if (pvRestore != null) {
            pvRestore.finish(); // the end-of-restore steps, if the state setters did not trigger them yet
        }
        releasePvSource();
        var raw = hv.rawInfo(domid);
        if (hv.toolstack != null && raw.isPresent() && raw.get().suspended()) {
            hv.toolstack.resume(domid, true);
            pausedByUs = false;
            LOG.info("event=domain_resumed backend=xen domain={} domid={} how=libxl_domain_resume_suspend_cancel", name, domid);
            return;
        }
        hv.ctrl.domainUnpause(domid);
        pausedByUs = false;
        LOG.info("event=domain_resumed backend=xen domain={} domid={}", name, domid);
    }

    @Override
    public void destroy() throws HypervisorException {
        if (destroyedAfterFailure) {
            return; // the failed restore step already destroyed it
        }
        requireAlive("destroy");
        dirtyLog.release();
        releasePvSource();
        if (hv.toolstack != null && restoreShape == null) {
            // libxl's destroy also removes what the toolstack set up (xenstore, console, devices)
            hv.toolstack.destroy(domid);
            destroyed = true;
            memory.release();
            LOG.info("event=domain_destroyed backend=xen domain={} domid={} how=libxl_domain_destroy", name, domid);
            return;
        }
        hv.ctrl.domainDestroy(domid);
        destroyed = true;
        memory.release();
        if (pvRestore != null) {
            pvRestore.release();
        }
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
