package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * vCPU and platform state of a Xen domain. HVM: the context blob, HVM params and TSC info, straight from
 * and to Xen (the stream carries them in Xen's own formats). PV: vCPU contexts canonicalised through the
 * guest's p2m and Xen's M2P ({@link PvSource}, {@link PvCanonical}), extended context and XSAVE through
 * {@code xc_domctl}, shared info and the p2m frame list; on a restore the setters go to {@link PvRestore},
 * which loads them at the end of the restore. Stateless apart from the domain reference; safe for
 * concurrent use.
 */
final class XenPlatformState implements PlatformState {

    /** Largest HVM context accepted from Xen or a peer (4096 vCPUs × ~9 KiB of records, with room). */
    static final int MAX_HVM_CONTEXT = 64 << 20;

    private static final java.lang.foreign.ValueLayout.OfShort U16 = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfInt U32 = JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final XenDomain domain;

    XenPlatformState(XenDomain domain) {
        this.domain = domain;
    }

    @Override
    public BitSet onlineVcpus() throws HypervisorException {
        domain.requireAlive("platform.onlineVcpus");
        int vcpus = domain.info().vcpus();
        BitSet online = new BitSet(vcpus);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(XenLayouts.XC_VCPUINFO);
            long onlineAt = XenLayouts.offset(XenLayouts.XC_VCPUINFO, "online");
            for (int v = 0; v < vcpus; v++) {
                domain.hv.ctrl.vcpuGetInfo(domain.domid, v, info);
                if (info.get(JAVA_BYTE, onlineAt) != 0) {
                    online.set(v);
                }
            }
        }
        online.set(0); // the streams treat vCPU 0 as always online
        return online;
    }

    // ---- PV -------------------------------------------------------------------------------------------

    private void checkVcpu(String op, int vcpu) throws HypervisorException {
        int vcpus = domain.info().vcpus();
        if (vcpu < 0 || vcpu >= vcpus) {
            throw new HypervisorException(op, domain.name, "vcpu " + vcpu + " outside 0.." + (vcpus - 1));
        }
    }

    private PvRestore restore(String op) throws HypervisorException {
        domain.requireAlive(op);
        if (domain.pvRestore == null) {
            throw new HypervisorException(op, domain.name, "only a PV domain built by createForRestore takes PV state");
        }
        return domain.pvRestore;
    }

    private void requirePv(String op) throws HypervisorException {
        domain.requireAlive(op);
        if (domain.guestType != dev.migrationd.protocol.GuestType.PV) {
            throw new HypervisorException(op, domain.name, "an HVM guest has no PV vCPU state");
        }
    }

    /** §8.1: {@code xc_vcpu_getcontext}, then start_info (vCPU 0), GDT frames, cr3 and cr1 as PFNs. */
    @Override
    public byte[] pvVcpuContext(int vcpu) throws HypervisorException {
        String op = "platform.pvVcpuContext";
        checkVcpu(op, vcpu);
        return domain.withPvSource(op, src -> {
            PvCanonical.VcpuOffsets o = PvCanonical.VcpuOffsets.of(src.gw);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(XenLayouts.VCPU_GUEST_CONTEXT_ANY);
                buf.fill((byte) 0);
                domain.hv.ctrl.vcpuGetContext(domain.domid, vcpu, buf);
                PvCanonical.canonicaliseVcpu(buf, vcpu, o, src::mfnToPfn, domain.name);
                return buf.asSlice(0, o.size()).toArray(JAVA_BYTE);
            }
        });
    }

    @Override
    public void setPvVcpuContext(int vcpu, byte[] context) throws HypervisorException {
        restore("platform.setPvVcpuContext").setVcpuContext(vcpu, context);
    }

    private MemorySegment domctl(Arena a, int cmd) {
        MemorySegment dc = a.allocate(XenLayouts.XEN_DOMCTL);
        dc.fill((byte) 0);
        dc.set(java.lang.foreign.ValueLayout.JAVA_INT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "cmd"), cmd);
        dc.set(java.lang.foreign.ValueLayout.JAVA_SHORT, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "domain"), (short) domain.domid);
        return dc;
    }

    /** §8.2: the 128-byte union of {@code XEN_DOMCTL_get_ext_vcpucontext}, as Xen filled it (zeros after {@code size}). */
    @Override
    public byte[] pvExtendedContext(int vcpu) throws HypervisorException {
        String op = "platform.pvExtendedContext";
        requirePv(op);
        checkVcpu(op, vcpu);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dc = domctl(a, XenLayouts.XEN_DOMCTL_GET_EXT_VCPUCONTEXT);
            long u = XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u");
            dc.set(java.lang.foreign.ValueLayout.JAVA_INT, u + XenLayouts.offset(XenLayouts.XEN_DOMCTL_EXT_VCPUCONTEXT, "vcpu"), vcpu);
            domain.hv.ctrl.domctl(dc);
            return dc.asSlice(u, XenLayouts.XEN_DOMCTL_UNION_BYTES).toArray(JAVA_BYTE);
        }
    }

    @Override
    public void setPvExtendedContext(int vcpu, byte[] context) throws HypervisorException {
        restore("platform.setPvExtendedContext").setExtendedContext(vcpu, context);
    }

    /** §8.4: what {@code XEN_DOMCTL_getvcpuextstate} returns (xcr0, xcr0_accum, area), or empty without XSAVE. */
    @Override
    public byte[] pvXsave(int vcpu) throws HypervisorException {
        String op = "platform.pvXsave";
        requirePv(op);
        checkVcpu(op, vcpu);
        var l = XenLayouts.XEN_DOMCTL_VCPUEXTSTATE;
        long u = XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dc = domctl(a, XenLayouts.XEN_DOMCTL_GETVCPUEXTSTATE);
            dc.set(java.lang.foreign.ValueLayout.JAVA_INT, u + XenLayouts.offset(l, "vcpu"), vcpu);
            domain.hv.ctrl.domctl(dc); // size 0: Xen reports the mask and the size it needs
            long mask = dc.get(java.lang.foreign.ValueLayout.JAVA_LONG, u + XenLayouts.offset(l, "xfeature_mask"));
            long size = dc.get(java.lang.foreign.ValueLayout.JAVA_LONG, u + XenLayouts.offset(l, "size"));
            if (mask == 0) {
                return new byte[0];
            }
            if (size < 16 || size > PvRestore.MAX_XSAVE_BYTES) {
                throw new HypervisorException(op, domain.name, "Xen reports an XSAVE record of " + size + " bytes (16.." + PvRestore.MAX_XSAVE_BYTES + ")");
            }
            XenCtrl.HypercallBuffer hb = domain.hv.ctrl.hypercallBufferAllocPages((int) ((size + 4095) / 4096));
            try {
                dc.set(java.lang.foreign.ValueLayout.JAVA_LONG, u + XenLayouts.offset(l, "buffer"), hb.data().address());
                domain.hv.ctrl.domctl(dc);
                long used = dc.get(java.lang.foreign.ValueLayout.JAVA_LONG, u + XenLayouts.offset(l, "size"));
                if (used < 0 || used > size) {
                    throw new HypervisorException(op, domain.name, "Xen filled " + used + " bytes of a " + size + "-byte XSAVE buffer");
                }
                return hb.data().asSlice(0, used).toArray(JAVA_BYTE);
            } finally {
                domain.hv.ctrl.hypercallBufferFreePages(hb);
            }
        }
    }

    @Override
    public void setPvXsave(int vcpu, byte[] xsave) throws HypervisorException {
        restore("platform.setPvXsave").setXsave(vcpu, xsave);
    }

    /** §8.3: the guest's shared-info page with {@code arch.pfn_to_mfn_frame_list_list} zeroed. */
    @Override
    public byte[] sharedInfo() throws HypervisorException {
        return domain.withPvSource("platform.sharedInfo", src -> {
            src.checkP2mGeneration(domain.name);
            byte[] page = src.sharedInfo().asSlice(0, 4096).toArray(JAVA_BYTE);
            var l = src.gw == dev.migrationd.protocol.Width.W64 ? XenLayouts.SHARED_INFO_X86_64 : XenLayouts.SHARED_INFO_X86_32;
            long at = XenLayouts.offset(l, "arch", "pfn_to_mfn_frame_list_list");
            java.util.Arrays.fill(page, (int) at, (int) at + src.gw.bytes(), (byte) 0);
            return page;
        });
    }

    @Override
    public void setSharedInfo(byte[] page) throws HypervisorException {
        restore("platform.setSharedInfo").setSharedInfo(page);
    }

    /** §3.2: the PFNs of the guest's p2m frames. */
    @Override
    public long[] p2mFrameList() throws HypervisorException {
        return domain.withPvSource("platform.p2mFrameList", PvSource::framePfns);
    }

    @Override
    public void setP2mFrameList(long[] frames) throws HypervisorException {
        restore("platform.setP2mFrameList").setP2mFrameList(frames);
    }

    // ---- HVM ------------------------------------------------------------------------------------------

    @Override
    public byte[] hvmContext() throws HypervisorException {
        domain.requireAlive("platform.hvmContext");
        domain.requireHvm("platform.hvmContext", "an HVM context of a PV guest");
        int size = domain.hv.ctrl.domainHvmGetContext(domain.domid, MemorySegment.NULL);
        if (size <= 0 || size > MAX_HVM_CONTEXT) {
            throw new HypervisorException("xc_domain_hvm_getcontext", domain.name,
                    "Xen reports a context of " + size + " bytes (expected 1.." + MAX_HVM_CONTEXT + ")");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(size);
            int used = domain.hv.ctrl.domainHvmGetContext(domain.domid, buf);
            if (used <= 0 || used > size) {
                throw new HypervisorException("xc_domain_hvm_getcontext", domain.name,
                        "Xen filled " + used + " bytes of a " + size + "-byte buffer");
            }
            byte[] blob = buf.asSlice(0, used).toArray(JAVA_BYTE);
            validateHvmContext("platform.hvmContext", blob);
            return blob;
        }
    }

    @Override
    public void setHvmContext(byte[] blob) throws HypervisorException {
        domain.requireAlive("platform.setHvmContext");
        domain.requireHvm("platform.setHvmContext", "an HVM context for a PV guest");
        validateHvmContext("platform.setHvmContext", blob);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(blob.length);
            MemorySegment.copy(blob, 0, buf, JAVA_BYTE, 0, blob.length);
            domain.hv.ctrl.domainHvmSetContext(domain.domid, buf);
        }
    }

    /**
     * Checks the record framing of an HVM context blob (docs/wire-format-legacy.md §10) before Xen sees it: a HEADER
     * record with the right magic first, every record inside the blob, an END descriptor last.
     */
    void validateHvmContext(String operation, byte[] blob) throws HypervisorException {
        if (blob.length > MAX_HVM_CONTEXT) {
            throw new HypervisorException(operation, domain.name, "HVM context of " + blob.length + " bytes exceeds " + MAX_HVM_CONTEXT);
        }
        MemorySegment s = MemorySegment.ofArray(blob);
        long desc = XenLayouts.HVM_SAVE_DESCRIPTOR.byteSize();
        long headerLen = XenLayouts.HVM_SAVE_HEADER.byteSize();
        if (blob.length < desc + headerLen + desc
                || Short.toUnsignedInt(s.get(U16, 0)) != XenLayouts.HVM_SAVE_CODE_HEADER
                || Integer.toUnsignedLong(s.get(U32, 4)) != headerLen
                || s.get(U32, desc + XenLayouts.offset(XenLayouts.HVM_SAVE_HEADER, "magic")) != XenLayouts.HVM_FILE_MAGIC) {
            throw new HypervisorException(operation, domain.name, "HVM context does not start with a HEADER record (magic 0x"
                    + Integer.toHexString(XenLayouts.HVM_FILE_MAGIC) + ")");
        }
        long off = 0;
        while (true) {
            if (off + desc > blob.length) {
                throw new HypervisorException(operation, domain.name, "HVM context ends inside a record descriptor at offset " + off);
            }
            int code = Short.toUnsignedInt(s.get(U16, off));
            long len = Integer.toUnsignedLong(s.get(U32, off + 4));
            if (code == XenLayouts.HVM_SAVE_CODE_END) {
                if (off + desc != blob.length) {
                    throw new HypervisorException(operation, domain.name, "HVM context has " + (blob.length - off - desc)
                            + " bytes after its END record");
                }
                return;
            }
            if (off + desc + len > blob.length) {
                throw new HypervisorException(operation, domain.name, "HVM context record type " + code + " at offset " + off
                        + " claims " + len + " bytes, past the end of the " + blob.length + "-byte blob");
            }
            off += desc + len;
        }
    }

    @Override
    public Map<Integer, Long> hvmParams() throws HypervisorException {
        domain.requireAlive("platform.hvmParams");
        domain.requireHvm("platform.hvmParams", "HVM params of a PV guest");
        Map<Integer, Long> params = new LinkedHashMap<>();
        for (int index : XenLayouts.STREAM_HVM_PARAMS) {
            long v = domain.hv.ctrl.hvmParamGet(domain.domid, index);
            if (v != 0) {
                params.put(index, v);
            }
        }
        return params;
    }

    @Override
    public void setHvmParam(int index, long value) throws HypervisorException {
        domain.requireAlive("platform.setHvmParam");
        domain.requireHvm("platform.setHvmParam", "HVM params for a PV guest");
        if (index < 0 || index >= HvmParamIndex.HVM_NR_PARAMS) {
            throw new HypervisorException("platform.setHvmParam", domain.name,
                    "HVM param index " + index + " outside 0.." + (HvmParamIndex.HVM_NR_PARAMS - 1));
        }
        domain.hv.ctrl.hvmParamSet(domain.domid, index, value);
    }

    // ---- both -----------------------------------------------------------------------------------------

    @Override
    public TscInfo tscInfo() throws HypervisorException {
        domain.requireAlive("platform.tscInfo");
        return domain.hv.ctrl.domainGetTscInfo(domain.domid);
    }

    @Override
    public void setTscInfo(TscInfo info) throws HypervisorException {
        domain.requireAlive("platform.setTscInfo");
        domain.hv.ctrl.domainSetTscInfo(domain.domid, info);
    }
}
