package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Xen backend: domains of this dom0 through libxenctrl, their memory through libxenforeignmemory and
 * their names through xenstore. HVM and PV guests (64-bit and 32-bit PAE) can be saved and restored; PV
 * guests go through their p2m, Xen's M2P and the stream's canonicalisation (see {@link XenDomain}). Safe for concurrent use: the ports are, and this class keeps no mutable state
 * apart from the closed flag.
 */
public final class XenHypervisor implements Hypervisor {

    private static final Logger LOG = LoggerFactory.getLogger(XenHypervisor.class);

    /** Domain infos fetched per {@code xc_domain_getinfolist} call. */
    static final int INFO_BATCH = 64;
    /** {@code DOMID_FIRST_RESERVED}: ids at and above it are not domains. */
    static final int DOMID_FIRST_RESERVED = 0x7FF0;
    /** {@code XEN_INVALID_MAX_VCPU_ID}: the domain has no vCPUs yet. */
    static final int XEN_INVALID_MAX_VCPU_ID = -1;
    /** ESRCH: Xen's answer for a domain id that does not exist (any more). */
    static final int ESRCH = 3;
    /** libxl's default {@code max_evtchn_port} (b_info->event_channels). */
    static final int DEFAULT_MAX_EVTCHN_PORT = 1023;
    /** libxl's {@code LIBXL_MAXMEM_CONSTANT}: KiB of headroom above the guest's RAM for maxmem. */
    static final long MAXMEM_SLACK_KB = 1024;
    private static final long PAGE_BYTES = 4096;
    /** The longest {@code memory/static-max} accepted: 16 decimal digits of KiB is far beyond any host. */
    static final int MAX_KIB_DIGITS = 16;

    final XenCtrl ctrl;
    final ForeignMemory fmem;
    final XenStore store;
    /** libxl, for the toolstack half of PVH migrations; null when it could not be opened (then PVH guests are only paused). */
    final Toolstack toolstack;
    private volatile boolean closed;

    XenHypervisor(XenCtrl ctrl, ForeignMemory fmem, XenStore store) {
        this(ctrl, fmem, store, null);
    }

    XenHypervisor(XenCtrl ctrl, ForeignMemory fmem, XenStore store, Toolstack toolstack) {
        this.ctrl = ctrl;
        this.fmem = fmem;
        this.store = store;
        this.toolstack = toolstack;
    }

    @Override
    public String backend() {
        return "xen";
    }

    @Override
    public Set<Capability> capabilities() {
        return toolstack == null ? EnumSet.of(Capability.RESTORE)
                : EnumSet.of(Capability.RESTORE, Capability.RENAME, Capability.STREAM_RESTORE);
    }

    /**
     * A PVH guest built by libxl from the libxl v2 stream the caller writes (see {@link XenStreamRestore}).
     */
    @Override
    public StreamRestore restoreFromStream(String name, UUID uuid, ToolstackConfig config) throws HypervisorException {
        if (toolstack == null) {
            throw new HypervisorException("restoreFromStream", name, "libxl (" + LibXl.SONAME + ") is not available on this host");
        }
        if (findDomain(name).isPresent()) {
            throw new HypervisorException("restoreFromStream", name, "a domain with this name already exists");
        }
        return XenStreamRestore.start(this, toolstack, name, uuid, config);
    }

    @Override
    public List<DomainInfo> listDomains() throws HypervisorException {
        List<DomainInfo> out = new ArrayList<>();
        int first = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment infos = a.allocate(XenLayouts.XC_DOMAININFO, INFO_BATCH);
            while (first < DOMID_FIRST_RESERVED) {
                int n = ctrl.domainGetInfoList(first, INFO_BATCH, infos);
                if (n < 0 || n > INFO_BATCH) {
                    throw new HypervisorException("xc_domain_getinfolist", null, "returned " + n + " entries for a buffer of " + INFO_BATCH);
                }
                int last = -1;
                for (int i = 0; i < n; i++) {
                    RawInfo raw = RawInfo.read(infos.asSlice(i * XenLayouts.XC_DOMAININFO.byteSize(), XenLayouts.XC_DOMAININFO.byteSize()));
                    last = raw.domid;
                    if (!raw.dying()) {
                        try {
                            out.add(describe(raw));
                        } catch (NativeCallException e) {
                            if (e.errno() != ESRCH) {
                                throw e;
                            }
                            // destroyed between the list and the describe: it is simply not there any more
                        }
                    }
                }
                if (n < INFO_BATCH) {
                    break;
                }
                first = last + 1;
            }
        }
        return out;
    }

    @Override
    public Optional<Domain> findDomain(String name) throws HypervisorException {
        for (DomainInfo info : listDomains()) {
            if (info.name().equals(name)) {
                return Optional.of(new XenDomain(this, info.domid(), info.name(), info.guestType(), null));
            }
        }
        return Optional.empty();
    }

    @Override
    public Optional<Domain> findDomain(int domid) throws HypervisorException {
        Optional<RawInfo> raw = rawInfo(domid);
        if (raw.isEmpty() || raw.get().dying()) {
            return Optional.empty();
        }
        DomainInfo info = describe(raw.get());
        return Optional.of(new XenDomain(this, domid, info.name(), info.guestType(), null));
    }

    @Override
    public Domain createForRestore(DomainShape shape) throws HypervisorException {
        if (findDomain(shape.name()).isPresent()) {
            throw new HypervisorException("createForRestore", shape.name(), "a domain with this name already exists");
        }
        int domid;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment config = a.allocate(XenLayouts.XEN_DOMCTL_CREATEDOMAIN);
            writeCreateConfig(config, shape);
            domid = ctrl.domainCreate(config);
        }
        LOG.info("event=domain_created backend=xen domain={} domid={} vcpus={} p2m_size={}", shape.name(), domid, shape.vcpus(), shape.p2mSize());
        try {
            ctrl.domainMaxVcpus(domid, shape.vcpus());
            ctrl.domainSetMaxMem(domid, shape.p2mSize() * 4 + MAXMEM_SLACK_KB);
            ctrl.setPagingMempoolSize(domid, pagingPoolBytes(shape));
            if (shape.guestType() == GuestType.PV && shape.guestWidth() == Width.W32) {
                setAddressSize(domid, shape.guestWidth()); // PV domains start 64-bit; a PAE guest is made compat first
            }
            store.write(namePath(domid), shape.name());
            return new XenDomain(this, domid, shape.name(), shape.guestType(), shape);
        } catch (HypervisorException | RuntimeException e) {
            destroyQuietly(domid, shape.name(), e);
            throw e;
        }
    }

    /** {@code XEN_DOMCTL_set_address_size}: the guest width of a new PV domain, before any page or vCPU is loaded. */
    void setAddressSize(int domid, Width width) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dc = a.allocate(XenLayouts.XEN_DOMCTL);
            dc.fill((byte) 0);
            dc.set(JAVA_INT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "cmd"), XenLayouts.XEN_DOMCTL_SET_ADDRESS_SIZE);
            dc.set(JAVA_SHORT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "domain"), (short) domid);
            dc.set(JAVA_INT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u") + XenLayouts.offset(XenLayouts.XEN_DOMCTL_ADDRESS_SIZE, "size"),
                    width.bits());
            ctrl.domctl(dc);
        }
    }

    /** Destroys a half-built domain after {@code cause}; a failure to destroy is attached to the cause, never replaces it. */
    void destroyQuietly(int domid, String name, Exception cause) {
        try {
            ctrl.domainDestroy(domid);
            store.remove("/local/domain/" + domid);
            LOG.info("event=domain_destroyed backend=xen domain={} domid={} reason=restore_failed", name, domid);
        } catch (HypervisorException | RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("event=destroy_failed backend=xen domain={} domid={} error=\"{}\"", name, domid, e.getMessage());
        }
    }

    /** libxl's default shadow/HAP pool: 4 × (256 × vCPUs + 2 × MiB of RAM) KiB. */
    static long pagingPoolBytes(DomainShape shape) {
        long memMb = shape.memoryBytes() >> 20;
        return 4L * (256L * shape.vcpus() + 2L * memMb) * 1024L;
    }

    static void writeCreateConfig(MemorySegment c, DomainShape shape) {
        var l = XenLayouts.XEN_DOMCTL_CREATEDOMAIN;
        c.fill((byte) 0);
        ByteBuffer uuid = ByteBuffer.allocate(16)
                .putLong(shape.uuid().getMostSignificantBits()).putLong(shape.uuid().getLeastSignificantBits());
        MemorySegment.copy(MemorySegment.ofArray(uuid.array()), 0, c, XenLayouts.offset(l, "handle"), 16);
        boolean hvm = shape.guestType() == GuestType.HVM;
        c.set(JAVA_INT, XenLayouts.offset(l, "flags"), hvm ? XenLayouts.XEN_DOMCTL_CDF_HVM | XenLayouts.XEN_DOMCTL_CDF_HAP : 0);
        c.set(JAVA_INT, XenLayouts.offset(l, "max_vcpus"), shape.vcpus());
        c.set(JAVA_INT, XenLayouts.offset(l, "max_evtchn_port"), DEFAULT_MAX_EVTCHN_PORT);
        c.set(JAVA_INT, XenLayouts.offset(l, "max_grant_frames"), -1);
        c.set(JAVA_INT, XenLayouts.offset(l, "max_maptrack_frames"), -1);
        c.set(JAVA_INT, XenLayouts.offset(l, "grant_opts"), XenLayouts.XEN_DOMCTL_GRANT_VERSION_2);
        c.set(JAVA_INT, XenLayouts.offset(l, "arch", "emulation_flags"), hvm ? XenLayouts.XEN_X86_EMU_HVM_DEFAULT : 0);
    }

    static String namePath(int domid) {
        return "/local/domain/" + domid + "/name";
    }

    Optional<RawInfo> rawInfo(int domid) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(XenLayouts.XC_DOMAININFO);
            int n = ctrl.domainGetInfoList(domid, 1, info);
            if (n < 1) {
                return Optional.empty();
            }
            RawInfo raw = RawInfo.read(info);
            return raw.domid == domid ? Optional.of(raw) : Optional.empty();
        }
    }

    DomainInfo describe(RawInfo raw) throws HypervisorException {
        String name = store.read(namePath(raw.domid)).orElse("domid-" + raw.domid);
        GuestType type = raw.hvm() ? GuestType.HVM : GuestType.PV;
        Width width = type == GuestType.HVM ? Width.W64 : pvWidth(raw.domid, name);
        long p2mSize = ctrl.domainMaximumGpfn(raw.domid) + 1;
        int vcpus = raw.maxVcpuId == XEN_INVALID_MAX_VCPU_ID ? 0 : raw.maxVcpuId + 1;
        return new DomainInfo(name, raw.domid, raw.uuid, p2mSize, vcpus, type, width,
                raw.paused() ? DomainState.PAUSED : DomainState.RUNNING, memoryBytes(raw), raw.pvh());
    }

    static String staticMaxPath(int domid) {
        return "/local/domain/" + domid + "/memory/static-max";
    }

    /**
     * The guest's memory: what its toolstack configured ({@code memory/static-max}, KiB, which libxl writes and
     * the guest cannot), when that is a number within Xen's limit for the domain; otherwise the pages it holds.
     */
    long memoryBytes(RawInfo raw) throws HypervisorException {
        long limit = raw.maxPages * PAGE_BYTES;
        Optional<String> text = store.read(staticMaxPath(raw.domid));
        if (text.isPresent()) {
            String t = text.get().strip();
            if (!t.isEmpty() && t.length() <= MAX_KIB_DIGITS && t.chars().allMatch(Character::isDigit)) {
                long bytes = Long.parseLong(t) * 1024;
                if (bytes > 0 && bytes <= limit) {
                    return bytes;
                }
            }
            LOG.warn("event=static_max_ignored backend=xen domid={} value=\"{}\" max_pages={}", raw.domid,
                    t.length() > MAX_KIB_DIGITS ? t.substring(0, MAX_KIB_DIGITS) + "..." : t, raw.maxPages);
        }
        return raw.totPages * PAGE_BYTES;
    }

    private Width pvWidth(int domid, String name) throws HypervisorException {
        int bytes = ctrl.domainGetGuestWidth(domid);
        return switch (bytes) {
            case 4 -> Width.W32;
            case 8 -> Width.W64;
            default -> throw new HypervisorException("xc_domain_get_guest_width", name, "Xen reports a guest width of " + bytes + " bytes");
        };
    }

    @Override
    public void close() throws HypervisorException {
        if (closed) {
            return;
        }
        closed = true;
        HypervisorException first = null;
        for (AutoCloseable c : new AutoCloseable[] {toolstack, store, fmem, ctrl}) {
            if (c == null) {
                continue; // no toolstack
            }
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof HypervisorException h ? h : new HypervisorException("close", null, e.getMessage(), e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The fields of {@code xc_domaininfo_t} the adapter uses. */
    record RawInfo(int domid, int flags, int maxVcpuId, UUID uuid, long sharedInfoFrame, long totPages, long maxPages,
                   int emulationFlags) {
        static RawInfo read(MemorySegment s) {
            var l = XenLayouts.XC_DOMAININFO;
            int domid = Short.toUnsignedInt(s.get(JAVA_SHORT, XenLayouts.offset(l, "domain")));
            long handle = XenLayouts.offset(l, "handle");
            ByteBuffer b = ByteBuffer.wrap(s.asSlice(handle, 16).toArray(JAVA_BYTE));
            return new RawInfo(domid, s.get(JAVA_INT, XenLayouts.offset(l, "flags")),
                    s.get(JAVA_INT, XenLayouts.offset(l, "max_vcpu_id")), new UUID(b.getLong(), b.getLong()),
                    s.get(JAVA_LONG, XenLayouts.offset(l, "shared_info_frame")),
                    s.get(JAVA_LONG, XenLayouts.offset(l, "tot_pages")), s.get(JAVA_LONG, XenLayouts.offset(l, "max_pages")),
                    s.get(JAVA_INT, XenLayouts.offset(l, "arch_config", "emulation_flags")));
        }

        boolean hvm() {
            return (flags & XenLayouts.XEN_DOMINF_HVM_GUEST) != 0;
        }

        /** An HVM guest whose only emulated device is the local APIC (PCI config emulation aside): Xen's PVH. */
        boolean pvh() {
            return hvm() && (emulationFlags & ~(XenLayouts.XEN_X86_EMU_LAPIC | XenLayouts.XEN_X86_EMU_VPCI)) == 0;
        }

        /** Shut down with reason suspend (SHUTDOWN_suspend): a guest that suspended itself, e.g. for a migration. */
        boolean suspended() {
            return (flags & XenLayouts.XEN_DOMINF_SHUTDOWN) != 0
                    && ((flags >>> XenLayouts.XEN_DOMINF_SHUTDOWN_SHIFT) & XenLayouts.XEN_DOMINF_SHUTDOWN_MASK) == XenLayouts.SHUTDOWN_SUSPEND;
        }

        boolean paused() {
            return (flags & XenLayouts.XEN_DOMINF_PAUSED) != 0;
        }

        boolean dying() {
            return (flags & XenLayouts.XEN_DOMINF_DYING) != 0;
        }
    }
}
