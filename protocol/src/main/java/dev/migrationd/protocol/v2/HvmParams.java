package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * HVM_PARAMS (0x0A): {@code (index, value)} pairs for {@code xc_hvm_param_set} (indexes:
 * {@link dev.migrationd.protocol.x86.HvmParamIndex}).
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
