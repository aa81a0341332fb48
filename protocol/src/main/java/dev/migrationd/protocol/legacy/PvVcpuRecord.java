package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * One online vcpu of the PV tail: canonicalised context (0x1430/0xAF0), the 128-byte extended context iff the
 * header had {@code extv} (else null), the XSAVE record iff the header had {@code xcnt} (else null).
 */
public record PvVcpuRecord(int vcpuId, Bytes context, Bytes extContext, XsaveRecord xsave) implements LegacyItem {
    static final String ITEM = "PV_TAIL_VCPU";

    public PvVcpuRecord {
        Objects.requireNonNull(context);
        if (extContext != null && extContext.size() != LegacyFormat.EXT_VCPU_CONTEXT_SIZE) {
            throw new IllegalArgumentException("extended context must be 128 bytes");
        }
    }

    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(context.size() + (extContext != null ? extContext.size() : 0)
                + (xsave != null ? xsave.xsaveLen() : 0));
        context.copyTo(b);
        if (extContext != null) {
            extContext.copyTo(b);
        }
        if (xsave != null) {
            b.put(xsave.encode());
        }
        Wire.send(sink, b);
    }

    /**
     * Reads the record of {@code vcpuId}: its context, the extended context iff {@code extv}, the XSAVE record iff
     * {@code xsaveLen} is not 0. The XSAVE record takes {@code xsaveLen} bytes on the wire, as libxc frames the tail;
     * its size field may be below {@code xsaveLen - 16} (accepted with a warning: the rest of the record is skipped)
     * but not above, nor below the 16 bytes of xcr0 and xcr0_accum (Xen refuses those).
     */
    static void read(Framer in, int vcpuId, PvHeader header, Framer.Then<? super PvVcpuRecord> then) throws StreamException {
        int ctx = header.vcpuContextSize();
        int ext = header.extv() ? LegacyFormat.EXT_VCPU_CONTEXT_SIZE : 0;
        int xsaveLen = header.xsaveLen();
        in.field("PV_VCPU", (long) ctx + ext + xsaveLen, f -> {
            Bytes context = Bytes.of(f.slice(0, ctx));
            Bytes extContext = ext != 0 ? Bytes.of(f.slice(ctx, ext)) : null;
            XsaveRecord xs = null;
            if (xsaveLen != 0) {
                int at = ctx + ext;
                long size = f.getLong(at + 8);
                long room = xsaveLen - LegacyFormat.XSAVE_RECORD_HEADER;
                if (Long.compareUnsigned(size, room) > 0) {
                    throw in.record("vcpu " + vcpuId + " XSAVE size " + Long.toUnsignedString(size)
                            + " > xcnt - 16 = " + room);
                }
                if (size < XsaveRecord.AREA) {
                    throw in.record("vcpu " + vcpuId + " XSAVE size " + size + " < " + XsaveRecord.AREA
                            + " (xcr0 and xcr0_accum; Xen refuses it)");
                }
                if (size < room) {
                    in.warn(LegacyStreamReader.Leniency.SHORT_XSAVE, "vcpu " + vcpuId + " XSAVE size " + size
                            + " < xcnt - 16 = " + room + ": the other " + (room - size) + " bytes skipped");
                }
                byte[] buffer = new byte[(int) size];
                f.get(at + LegacyFormat.XSAVE_RECORD_HEADER, buffer);
                xs = new XsaveRecord(f.getLong(at), buffer);
            }
            then.accept(new PvVcpuRecord(vcpuId, context, extContext, xs));
        });
    }
}
