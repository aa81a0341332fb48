package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.x86.TscInfo;
import java.util.BitSet;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * vCPU and platform state in the stream's formats. The static parts live in {@link SimMetadata}; the
 * workload registers live in the domain's register file and are patched into the contexts on every read
 * (a running domain gives a snapshot), and extracted from them on every write. Setters need the domain
 * paused and persist the metadata; every blob is checked first (it comes from a stream).
 */
final class SimPlatformState implements PlatformState {

    private final SimDomain d;

    SimPlatformState(SimDomain domain) {
        this.d = domain;
    }

    private void requireType(String op, GuestType type) throws HypervisorException {
        d.checkAlive(op);
        if (d.guestType() != type) {
            throw new HypervisorException(op, d.name(), "not available for a " + d.guestType() + " guest");
        }
    }

    private void checkVcpu(String op, int vcpu) throws HypervisorException {
        if (vcpu < 0 || vcpu >= d.meta().vcpus) {
            throw new HypervisorException(op, d.name(), "vcpu " + vcpu + " outside 0.." + (d.meta().vcpus - 1));
        }
    }

    @Override
    public BitSet onlineVcpus() throws HypervisorException {
        d.checkAlive("vcpus");
        BitSet b = new BitSet();
        b.set(0, d.meta().vcpus);
        return b;
    }

    // ---- PV ----------------------------------------------------------------------------------------

    @Override
    public byte[] pvVcpuContext(int vcpu) throws HypervisorException {
        requireType("get_vcpu_context", GuestType.PV);
        checkVcpu("get_vcpu_context", vcpu);
        d.stateLock().lock();
        try {
            byte[] ctx = d.meta().pvContexts[vcpu].clone();
            for (int r = 0; r < SimX86.WORKLOAD_REGS; r++) {
                SimX86.setPvReg(d.width(), ctx, r, d.register(vcpu, r));
            }
            return ctx;
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public void setPvVcpuContext(int vcpu, byte[] context) throws HypervisorException {
        requireType("set_vcpu_context", GuestType.PV);
        checkVcpu("set_vcpu_context", vcpu);
        int size = SimX86.pvContextSize(d.width());
        if (context.length != size) {
            throw new HypervisorException("set_vcpu_context", d.name(), "context of " + context.length
                    + " bytes, a " + d.width().bits() + "-bit guest's is " + size);
        }
        long cr3 = SimX86.pvCr3Pfn(d.width(), context);
        if (cr3 >= d.meta().p2mSize) {
            throw new HypervisorException("set_vcpu_context", d.name(), "cr3 pfn " + cr3 + " outside the guest");
        }
        PageType top = d.typeAt(cr3);
        if (top != null && top.isPageTable() && top.level() != d.layout().levels()) {
            throw new HypervisorException("set_vcpu_context", d.name(), "cr3 pfn " + cr3 + " is an " + top
                    + ", not a level-" + d.layout().levels() + " table");
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_vcpu_context");
            d.meta().pvContexts[vcpu] = context.clone();
            for (int r = 0; r < SimX86.WORKLOAD_REGS; r++) {
                d.setRegister(vcpu, r, SimX86.pvReg(d.width(), context, r));
            }
            d.persistState("set_vcpu_context");
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public byte[] pvExtendedContext(int vcpu) throws HypervisorException {
        requireType("get_ext_context", GuestType.PV);
        checkVcpu("get_ext_context", vcpu);
        return d.meta().extContexts[vcpu].clone();
    }

    @Override
    public void setPvExtendedContext(int vcpu, byte[] context) throws HypervisorException {
        requireType("set_ext_context", GuestType.PV);
        checkVcpu("set_ext_context", vcpu);
        if (context.length != SimX86.EXT_CTX_SIZE) {
            throw new HypervisorException("set_ext_context", d.name(), "extended context of " + context.length
                    + " bytes, expected " + SimX86.EXT_CTX_SIZE);
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_ext_context");
            d.meta().extContexts[vcpu] = context.clone();
            d.persistState("set_ext_context");
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public byte[] pvXsave(int vcpu) throws HypervisorException {
        requireType("get_xsave", GuestType.PV);
        checkVcpu("get_xsave", vcpu);
        return new byte[0]; // sim guests have no extended FPU state
    }

    @Override
    public void setPvXsave(int vcpu, byte[] xsave) throws HypervisorException {
        requireType("set_xsave", GuestType.PV);
        checkVcpu("set_xsave", vcpu);
        if (xsave.length != 0) {
            throw new HypervisorException("set_xsave", d.name(), "sim guests have no XSAVE state, got " + xsave.length + " bytes");
        }
    }

    @Override
    public byte[] sharedInfo() throws HypervisorException {
        requireType("get_shared_info", GuestType.PV);
        return d.meta().sharedInfo.clone();
    }

    @Override
    public void setSharedInfo(byte[] page) throws HypervisorException {
        requireType("set_shared_info", GuestType.PV);
        if (page.length != SimX86.SHARED_INFO_SIZE) {
            throw new HypervisorException("set_shared_info", d.name(), "shared info of " + page.length + " bytes, expected 4096");
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_shared_info");
            d.meta().sharedInfo = page.clone();
            d.persistState("set_shared_info");
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public long[] p2mFrameList() throws HypervisorException {
        requireType("get_p2m_frames", GuestType.PV);
        return d.meta().p2mFrames.clone();
    }

    @Override
    public void setP2mFrameList(long[] frames) throws HypervisorException {
        requireType("set_p2m_frames", GuestType.PV);
        long fpp = StreamLimits.PAGE_SIZE / d.width().bytes();
        long expected = (d.meta().p2mSize + fpp - 1) / fpp;
        if (frames.length != expected) {
            throw new HypervisorException("set_p2m_frames", d.name(), frames.length + " frames, a p2m of "
                    + d.meta().p2mSize + " entries needs " + expected);
        }
        for (long f : frames) {
            if (f < 0 || f >= d.meta().p2mSize) {
                throw new HypervisorException("set_p2m_frames", d.name(), "frame pfn " + f + " outside the guest");
            }
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_p2m_frames");
            d.meta().p2mFrames = frames.clone();
            d.persistState("set_p2m_frames");
        } finally {
            d.stateLock().unlock();
        }
    }

    // ---- HVM ---------------------------------------------------------------------------------------

    @Override
    public byte[] hvmContext() throws HypervisorException {
        requireType("get_hvm_context", GuestType.HVM);
        d.stateLock().lock();
        try {
            byte[] blob = d.meta().hvmContext.clone();
            int[] off = SimX86.hvmCpuOffsets(blob, d.meta().vcpus);
            for (int v = 0; v < off.length; v++) {
                for (int r = 0; r < SimX86.WORKLOAD_REGS; r++) {
                    SimX86.setHvmReg(blob, off[v], r, d.register(v, r));
                }
            }
            return blob;
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public void setHvmContext(byte[] blob) throws HypervisorException {
        requireType("set_hvm_context", GuestType.HVM);
        if (blob.length > StreamLimits.DEFAULT.maxHvmContextBytes()) {
            throw new HypervisorException("set_hvm_context", d.name(), "context of " + blob.length + " bytes exceeds the limit");
        }
        int[] off;
        try {
            SimX86.validateHvmContext(blob);
            off = SimX86.hvmCpuOffsets(blob, d.meta().vcpus);
        } catch (IllegalArgumentException e) {
            throw new HypervisorException("set_hvm_context", d.name(), e.getMessage());
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_hvm_context");
            d.meta().hvmContext = blob.clone();
            for (int v = 0; v < off.length; v++) {
                for (int r = 0; r < SimX86.WORKLOAD_REGS; r++) {
                    d.setRegister(v, r, SimX86.hvmReg(blob, off[v], r));
                }
            }
            d.persistState("set_hvm_context");
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public Map<Integer, Long> hvmParams() throws HypervisorException {
        requireType("get_hvm_params", GuestType.HVM);
        d.stateLock().lock();
        try {
            return Collections.unmodifiableMap(new TreeMap<>(d.meta().hvmParams));
        } finally {
            d.stateLock().unlock();
        }
    }

    @Override
    public void setHvmParam(int index, long value) throws HypervisorException {
        requireType("set_hvm_param", GuestType.HVM);
        if (index < 0 || index >= SimMetadata.MAX_HVM_PARAM_INDEX) {
            throw new HypervisorException("set_hvm_param", d.name(), "param index " + index + " outside 0.."
                    + (SimMetadata.MAX_HVM_PARAM_INDEX - 1));
        }
        d.stateLock().lock();
        try {
            d.checkPaused("set_hvm_param");
            if (value == 0) {
                d.meta().hvmParams.remove(index);
            } else {
                d.meta().hvmParams.put(index, value);
            }
            d.persistState("set_hvm_param");
        } finally {
            d.stateLock().unlock();
        }
    }

    // ---- both --------------------------------------------------------------------------------------

    @Override
    public TscInfo tscInfo() throws HypervisorException {
        d.checkAlive("get_tsc_info");
        return d.meta().tsc;
    }

    @Override
    public void setTscInfo(TscInfo info) throws HypervisorException {
        d.stateLock().lock();
        try {
            d.checkPaused("set_tsc_info");
            d.meta().tsc = info;
            d.persistState("set_tsc_info");
        } finally {
            d.stateLock().unlock();
        }
    }
}
