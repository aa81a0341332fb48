package dev.migrationd.protocol.x86;

import dev.migrationd.protocol.RecordException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A per-vCPU XSAVE record of a legacy PV tail (docs/wire-format-legacy.md §8.4), present for every online vCPU
 * when the extended info announced {@code xcnt}:
 *
 * <pre>
 *  0  u64 xfeature_mask
 *  8  u64 size                 = xsave_len - 16
 * 16  u8  buffer[size]         what XEN_DOMCTL_getvcpuextstate returns:
 *        0  u64 xcr0
 *        8  u64 xcr0_accum
 *       16  XSAVE area: 512-byte FXSAVE legacy region, 64-byte XSAVE header (XSTATE_BV at 512), components
 * </pre>
 *
 * The v2 {@code X86_PV_VCPU_XSAVE} record carries {@code buffer} only. {@code buffer} is held as a copy.
 *
 * @param xfeatureMask the vCPU's XSAVE feature mask
 * @param buffer       xcr0, xcr0_accum, XSAVE area
 */
public record XsaveRecord(long xfeatureMask, byte[] buffer) {
    /** Bytes of the mask/size prefix. */
    public static final int PREFIX = 16;
    /** Offset of the XSAVE area inside {@link #buffer()}. */
    public static final int AREA = 16;
    /** Size of the XSAVE legacy region + header: the smallest XSAVE area. */
    public static final int MIN_AREA_SIZE = Fxsave.SIZE + 64;
    /** Offset of XSTATE_BV inside the XSAVE area. */
    public static final int XSTATE_BV = 512;
    /** XCR0 bits x87 | SSE. */
    public static final long XCR0_X87_SSE = 0x3;

    public XsaveRecord {
        buffer = buffer.clone();
    }

    @Override
    public byte[] buffer() {
        return buffer.clone();
    }

    /** {@code 16 + buffer.length}: the {@code xcnt} value the extended info announces for records like this one. */
    public int xsaveLen() {
        return PREFIX + buffer.length;
    }

    /**
     * A vCPU that has only x87 and SSE state, freshly initialised: mask and xcr0 = xcr0_accum = 3,
     * FXSAVE region FCW 0x37F / MXCSR 0x1F80, XSTATE_BV 3. {@link #xsaveLen()} is 16 + 16 + 576 = 608.
     */
    public static XsaveRecord resetState() {
        byte[] buf = new byte[AREA + MIN_AREA_SIZE];
        MemorySegment s = MemorySegment.ofArray(buf);
        Le.putU64(s, 0, XCR0_X87_SSE);
        Le.putU64(s, 8, XCR0_X87_SSE);
        Fxsave.writeInit(s, AREA);
        Le.putU64(s, AREA + XSTATE_BV, XCR0_X87_SSE);
        return new XsaveRecord(XCR0_X87_SSE, buf);
    }

    /** The wire form: mask, size, buffer. */
    public byte[] encode() {
        byte[] out = new byte[xsaveLen()];
        MemorySegment s = MemorySegment.ofArray(out);
        Le.putU64(s, 0, xfeatureMask);
        Le.putU64(s, 8, buffer.length);
        MemorySegment.copy(buffer, 0, s, ValueLayout.JAVA_BYTE, PREFIX, buffer.length);
        return out;
    }

    /**
     * Parses one record of exactly {@code xsaveLen} bytes (the {@code xcnt} value), checking that its size
     * field is {@code xsaveLen - 16}.
     *
     * @param streamOffset where {@code wire} starts in the stream, for the error message
     */
    public static XsaveRecord parse(byte[] wire, long streamOffset) throws RecordException {
        if (wire.length < PREFIX) {
            throw new RecordException("PV_TAIL_XSAVE", 0, streamOffset,
                    "XSAVE record of " + wire.length + " bytes is shorter than its 16-byte prefix");
        }
        MemorySegment s = MemorySegment.ofArray(wire);
        long size = Le.u64(s, 8);
        if (size != wire.length - PREFIX) {
            throw new RecordException("PV_TAIL_XSAVE", 0, streamOffset + 8, "XSAVE size field " + size
                    + " does not match xcnt - 16 = " + (wire.length - PREFIX));
        }
        return new XsaveRecord(Le.u64(s, 0), Arrays.copyOfRange(wire, PREFIX, wire.length));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XsaveRecord r && r.xfeatureMask == xfeatureMask && Arrays.equals(r.buffer, buffer);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(xfeatureMask) * 31 + Arrays.hashCode(buffer);
    }

    @Override
    public String toString() {
        return "XsaveRecord[xfeatureMask=0x" + Long.toHexString(xfeatureMask) + ", buffer=" + buffer.length + " bytes]";
    }
}
