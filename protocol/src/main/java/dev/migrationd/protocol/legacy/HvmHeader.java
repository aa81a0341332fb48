package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;

/** The HVM header: just {@code ulong p2m_size} (§3). */
public record HvmHeader(long p2mSize) implements LegacyItem {
    public HvmHeader {
        LegacyFormat.checkP2mSize(p2mSize);
    }

    @Override
    public String itemName() {
        return "HEADER";
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(width.bytes());
        Wire.putUlong(b, width, p2mSize);
        Wire.send(sink, b);
    }
}
