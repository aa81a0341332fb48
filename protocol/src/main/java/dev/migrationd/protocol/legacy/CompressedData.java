package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/** {@code COMPRESSED_DATA} (−12): {@code ulong len, u8 data[len]}; see {@link CheckpointCompression}. */
public record CompressedData(Bytes data) implements LegacyItem {
    public CompressedData {
        Objects.requireNonNull(data);
    }

    @Override
    public String itemName() {
        return ChunkType.COMPRESSED_DATA.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        write(sink, width, data.asByteBuffer());
    }

    /** Writes a COMPRESSED_DATA chunk whose data (the remaining bytes of {@code data}) goes to the sink as a view. */
    static void write(ByteSink sink, Width width, ByteBuffer data) throws IOException {
        ByteBuffer b = Wire.chunk(ChunkType.COMPRESSED_DATA, width.bytes());
        Wire.putUlong(b, width, data.remaining());
        Wire.send(sink, b);
        if (data.hasRemaining()) {
            sink.write(data.duplicate());
        }
    }

    /**
     * Reads the payload after the id: {@code ulong len} (checked against the limit), then the data, which
     * {@code scan} checks as the next part of the checkpoint's page encodings.
     *
     * @param dataEntries data-bearing PFN entries of the checkpoint so far: the pages the encodings may hold
     */
    static void read(Framer in, CheckpointCompression.Decoder scan, long dataEntries, Framer.Then<? super CompressedData> then)
            throws StreamException {
        in.field("COMPRESSED_LEN", in.width().bytes(), f -> {
            long len = in.ulong(f);
            if (len < 0 || len > in.limits().maxCompressedChunk()) {
                throw in.fatal("COMPRESSED_DATA length " + Long.toUnsignedString(len) + " exceeds "
                        + in.limits().maxCompressedChunk());
            }
            in.field("COMPRESSED_DATA", len, d -> {
                try {
                    scan.feed(d.duplicate(), dataEntries);
                } catch (RecordException e) {
                    throw in.record(e.getMessage());
                }
                then.accept(new CompressedData(Bytes.of(d)));
            });
        });
    }
}
