package dev.migrationd.hypervisor;

import dev.migrationd.protocol.x86.TscInfo;
import java.util.BitSet;
import java.util.Map;

/**
 * vCPU and platform state, as bytes in the save stream's own formats (docs/wire-format-legacy.md §7, §8, §10),
 * so the engine can write and read them without knowing the backend. Getters on a running domain give
 * a snapshot; the engine reads the final state with the domain paused. Setters are for a domain being
 * restored (paused).
 */
public interface PlatformState {

    /** Online vCPUs (bit i = vCPU i); vCPU 0 is always online. */
    BitSet onlineVcpus() throws HypervisorException;

    // ---- PV ------------------------------------------------------------------------------------------

    /** PV: vCPU {@code vcpu}'s {@code vcpu_guest_context} for the guest's width (0x1430 or 0xAF0 bytes), canonicalised. */
    byte[] pvVcpuContext(int vcpu) throws HypervisorException;

    void setPvVcpuContext(int vcpu, byte[] context) throws HypervisorException;

    /** PV: the 128-byte extended vCPU context. */
    byte[] pvExtendedContext(int vcpu) throws HypervisorException;

    void setPvExtendedContext(int vcpu, byte[] context) throws HypervisorException;

    /** PV: the XSAVE record ({@code u64 xcr0, u64 xcr0_accum, area}) or an empty array when the guest has none. */
    byte[] pvXsave(int vcpu) throws HypervisorException;

    void setPvXsave(int vcpu, byte[] xsave) throws HypervisorException;

    /** PV: the 4096-byte shared-info page. */
    byte[] sharedInfo() throws HypervisorException;

    void setSharedInfo(byte[] page) throws HypervisorException;

    /** PV: the PFNs of the pages that hold the guest's p2m (the stream's p2m frame list). */
    long[] p2mFrameList() throws HypervisorException;

    void setP2mFrameList(long[] frames) throws HypervisorException;

    // ---- HVM -----------------------------------------------------------------------------------------

    /** HVM: the context blob (HEADER, per-vCPU and device records, END), as {@code XEN_DOMCTL_gethvmcontext} gives it. */
    byte[] hvmContext() throws HypervisorException;

    void setHvmContext(byte[] blob) throws HypervisorException;

    /** HVM: the non-zero HVM params the stream carries, by {@code HVM_PARAM_*} index. */
    Map<Integer, Long> hvmParams() throws HypervisorException;

    void setHvmParam(int index, long value) throws HypervisorException;

    // ---- both ----------------------------------------------------------------------------------------

    /** TSC mode, elapsed nanoseconds, guest kHz and incarnation (what both stream formats carry). */
    TscInfo tscInfo() throws HypervisorException;

    void setTscInfo(TscInfo info) throws HypervisorException;
}
