package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * HVM_PARAMS (0x0A): {@code (index, value)} pairs for {@code xc_hvm_param_set}.
 * <pre>
 *  0       4       8               16              24
 * +-------+-------+---------------+---------------+-- ... --+
 * | count | res 0 | index[0]      | value[0]      |  ...    |   length = 8 + 16 * count exactly
 * +-------+-------+---------------+---------------+-- ... --+
 * </pre>
 */
public record HvmParams(List<Param> params) implements LibxcRecord {

    /** One parameter: {@code HVM_PARAM_*} index and its value. */
    public record Param(long index, long value) {
    }

    /** {@code HVM_PARAM_STORE_PFN}. */
    public static final long HVM_PARAM_STORE_PFN = 1;
    /** {@code HVM_PARAM_IOREQ_PFN}. */
    public static final long HVM_PARAM_IOREQ_PFN = 5;
    /** {@code HVM_PARAM_BUFIOREQ_PFN}. */
    public static final long HVM_PARAM_BUFIOREQ_PFN = 6;
    /** {@code HVM_PARAM_VIRIDIAN}. */
    public static final long HVM_PARAM_VIRIDIAN = 9;
    /** {@code HVM_PARAM_IDENT_PT}. */
    public static final long HVM_PARAM_IDENT_PT = 12;
    /** {@code HVM_PARAM_VM86_TSS}. */
    public static final long HVM_PARAM_VM86_TSS = 15;
    /** {@code HVM_PARAM_CONSOLE_PFN}. */
    public static final long HVM_PARAM_CONSOLE_PFN = 17;
    /** {@code HVM_PARAM_ACPI_IOPORTS_LOCATION}. */
    public static final long HVM_PARAM_ACPI_IOPORTS_LOCATION = 19;
    /** {@code HVM_PARAM_PAGING_RING_PFN}. */
    public static final long HVM_PARAM_PAGING_RING_PFN = 27;
    /** {@code HVM_PARAM_MONITOR_RING_PFN} (legacy ACCESS_RING_PFN). */
    public static final long HVM_PARAM_MONITOR_RING_PFN = 28;
    /** {@code HVM_PARAM_SHARING_RING_PFN}. */
    public static final long HVM_PARAM_SHARING_RING_PFN = 29;
    /** {@code HVM_PARAM_IOREQ_SERVER_PFN}. */
    public static final long HVM_PARAM_IOREQ_SERVER_PFN = 32;
    /** {@code HVM_PARAM_NR_IOREQ_SERVER_PAGES}. */
    public static final long HVM_PARAM_NR_IOREQ_SERVER_PAGES = 33;
    /** {@code HVM_PARAM_VM_GENERATION_ID_ADDR}. */
    public static final long HVM_PARAM_VM_GENERATION_ID_ADDR = 34;

    /** Most entries one record may carry (Xen 4.17 defines 39 params; this bounds the list). */
    public static final int MAX_COUNT = 1024;

    public HvmParams {
        params = List.copyOf(params);
        if (params.size() > MAX_COUNT) {
            throw new IllegalArgumentException("more than " + MAX_COUNT + " HVM params");
        }
    }

    @Override
    public RecordType type() {
        return RecordType.HVM_PARAMS;
    }

    static HvmParams read(ByteBuffer body, long offset) throws RecordException {
        int len = body.remaining();
        if (len < V2Format.HVM_PARAMS_HDR_SIZE) {
            throw Bodies.bad(RecordType.HVM_PARAMS, offset, "length " + len + " is below 8");
        }
        long count = Integer.toUnsignedLong(body.getInt(0));
        if (body.getInt(4) != 0) {
            throw Bodies.bad(RecordType.HVM_PARAMS, offset, "reserved field not zero");
        }
        long expected = V2Format.HVM_PARAMS_HDR_SIZE + count * V2Format.HVM_PARAMS_ENTRY_SIZE;
        if (len != expected) {
            throw Bodies.bad(RecordType.HVM_PARAMS, offset, "length " + len + " for count " + count
                    + ", expected " + expected);
        }
        if (count > MAX_COUNT) {
            throw Bodies.bad(RecordType.HVM_PARAMS, offset, "count " + count + " exceeds " + MAX_COUNT);
        }
        List<Param> list = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            int at = V2Format.HVM_PARAMS_HDR_SIZE + i * V2Format.HVM_PARAMS_ENTRY_SIZE;
            list.add(new Param(body.getLong(at), body.getLong(at + 8)));
        }
        return new HvmParams(list);
    }

    @Override
    public int fixedLength() {
        return V2Format.HVM_PARAMS_HDR_SIZE + params.size() * V2Format.HVM_PARAMS_ENTRY_SIZE;
    }

    @Override
    public void writeFixed(ByteBuffer out) {
        out.putInt(params.size()).putInt(0);
        for (Param p : params) {
            out.putLong(p.index()).putLong(p.value());
        }
    }
}
