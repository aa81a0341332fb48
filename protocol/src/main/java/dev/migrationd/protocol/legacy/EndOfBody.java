package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;
import java.io.IOException;

/** The end-of-body marker {@code i32 0}. */
public record EndOfBody() implements LegacyItem {
    @Override
    public String itemName() {
        return "END_OF_BODY";
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        Wire.send(sink, Wire.alloc(4).putInt(LegacyFormat.END_OF_BODY));
    }
}
