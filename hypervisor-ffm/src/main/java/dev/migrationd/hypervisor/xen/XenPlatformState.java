package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * vCPU and platform state of a Xen domain. HVM: the context blob, HVM params and TSC info, straight from
 * and to Xen (the stream carries them in Xen's own formats). PV: TSC info and online vCPUs work; the
 * vCPU contexts, shared info and p2m frame list need MFN↔PFN translation (see {@link XenDomain}) and fail
 * with a clear message. Stateless apart from the domain reference; safe for concurrent use.
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

    // ---- PV: not yet (needs p2m/M2P) ----------------------------------------------------------------

    @Override
    public byte[] pvVcpuContext(int vcpu) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.pvVcpuContext", domain.name, "reading a canonicalised PV vCPU context");
    }

    @Override
    public void setPvVcpuContext(int vcpu, byte[] context) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.setPvVcpuContext", domain.name, "loading a PV vCPU context");
    }

    @Override
    public byte[] pvExtendedContext(int vcpu) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.pvExtendedContext", domain.name, "the PV extended vCPU context");
    }

    @Override
    public void setPvExtendedContext(int vcpu, byte[] context) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.setPvExtendedContext", domain.name, "the PV extended vCPU context");
    }

    @Override
    public byte[] pvXsave(int vcpu) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.pvXsave", domain.name, "PV XSAVE state");
    }

    @Override
    public void setPvXsave(int vcpu, byte[] xsave) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.setPvXsave", domain.name, "PV XSAVE state");
    }

    @Override
    public byte[] sharedInfo() throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.sharedInfo", domain.name, "the PV shared-info page");
    }

    @Override
    public void setSharedInfo(byte[] page) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.setSharedInfo", domain.name, "the PV shared-info page");
    }

    @Override
    public long[] p2mFrameList() throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.p2mFrameList", domain.name, "the PV p2m frame list");
    }

    @Override
    public void setP2mFrameList(long[] frames) throws HypervisorException {
        throw XenDomain.pvUnsupported("platform.setP2mFrameList", domain.name, "the PV p2m frame list");
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
     * Checks the record framing of an HVM context blob (legacy-stream.md §10) before Xen sees it: a HEADER
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
        if (index < 0 || index >= XenLayouts.HVM_NR_PARAMS) {
            throw new HypervisorException("platform.setHvmParam", domain.name,
                    "HVM param index " + index + " outside 0.." + (XenLayouts.HVM_NR_PARAMS - 1));
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
