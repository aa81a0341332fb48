package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;

/** The shared-info page (4096 bytes) ending the PV tail (its layout: {@link dev.migrationd.protocol.x86.SharedInfo}). */
public record PvSharedInfo(Bytes page) implements LegacyItem {
    static final String ITEM = "PV_TAIL_SHARED_INFO";

    public PvSharedInfo {
        if (page.size() != LegacyFormat.SHARED_INFO_SIZE) {
            throw new IllegalArgumentException("shared info must be 4096 bytes");
        }
    }

    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(LegacyFormat.SHARED_INFO_SIZE);
        page.copyTo(b);
        Wire.send(sink, b);
    }

    static void read(Framer in, Framer.Then<? super PvSharedInfo> then) throws StreamException {
        in.field("PV_SHARED_INFO", LegacyFormat.SHARED_INFO_SIZE, f -> then.accept(new PvSharedInfo(Bytes.of(f))));
    }
}
