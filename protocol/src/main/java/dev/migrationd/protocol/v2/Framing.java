package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.ByteSink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/** Writes one framed record (libxc or libxl): header and fixed fields in a fresh buffer, payload views, padding. */
final class Framing {
    private Framing() {
    }

    /** Largest body a record header can describe (u32 length). */
    static final long MAX_BODY = 0xFFFF_FFFFL;

    /** @return octets written */
    static long write(ByteSink sink, int type, int fixedLength, Consumer<ByteBuffer> fixed, ByteBuffer[] payload)
            throws IOException {
        long body = fixedLength;
        for (ByteBuffer p : payload) {
            body += p.remaining();
        }
        if (body > MAX_BODY) {
            throw new IllegalArgumentException("record body of " + body + " bytes exceeds the u32 length field");
        }
        int pad = V2Format.padding(body);
        boolean padInHead = payload.length == 0;
        ByteBuffer head = ByteBuffer.allocate(V2Format.RH_SIZE + fixedLength + (padInHead ? pad : 0))
                .order(ByteOrder.LITTLE_ENDIAN);
        head.putInt(type).putInt((int) body);
        int before = head.position();
        fixed.accept(head);
        if (head.position() - before != fixedLength) {
            throw new IllegalStateException("record wrote " + (head.position() - before) + " fixed bytes, declared "
                    + fixedLength);
        }
        head.position(head.capacity());
        sink.write(head.flip());
        for (ByteBuffer p : payload) {
            sink.write(p.asReadOnlyBuffer());
        }
        if (!padInHead && pad > 0) {
            sink.write(ByteBuffer.allocate(pad));
        }
        return V2Format.RH_SIZE + body + pad;
    }
}
