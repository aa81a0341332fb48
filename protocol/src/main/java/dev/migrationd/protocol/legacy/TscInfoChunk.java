package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.util.Objects;

/** {@code TSC_INFO} (−7): {@code u32 tsc_mode, u64 nsec, u32 khz, u32 incarnation} (20 bytes, nsec before khz). */
public record TscInfoChunk(TscInfo tsc) implements LegacyItem {
    public TscInfoChunk {
        Objects.requireNonNull(tsc, "tsc");
    }

    @Override
    public String itemName() {
        return ChunkType.TSC_INFO.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        Wire.send(sink, Wire.chunk(ChunkType.TSC_INFO, LegacyFormat.TSC_INFO_PAYLOAD).putInt(tsc.mode())
                .putLong(tsc.nsec()).putInt(tsc.khz()).putInt(tsc.incarnation()));
    }

    static void read(Framer in, Framer.Then<? super TscInfoChunk> then) throws StreamException {
        in.field("TSC_INFO", LegacyFormat.TSC_INFO_PAYLOAD, f -> then.accept(
                new TscInfoChunk(new TscInfo(f.getInt(), f.getLong(), f.getInt(), f.getInt()))));
    }
}
