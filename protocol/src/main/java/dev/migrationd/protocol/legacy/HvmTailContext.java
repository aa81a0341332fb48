package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The HVM tail's context, {@code u32 hvm_ctx_len, u8 hvm_ctx[len]}: the blob of an
 * {@link HvmContext} (HEADER record … END, §10), carried as the sender wrote it.
 * Readers and writers check its framing ({@code HvmContext.framingProblem}); {@code HvmContext.parse} reads
 * its records.
 */
public record HvmTailContext(Bytes blob) implements LegacyItem {
    static final String ITEM = "HVM_TAIL_CONTEXT";

    public HvmTailContext {
        Objects.requireNonNull(blob);
    }

    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.alloc(4 + blob.size()).putInt(blob.size());
        blob.copyTo(b);
        Wire.send(sink, b);
    }

    /** Reads {@code u32 hvm_ctx_len} (checked against the limit), then the blob, whose framing must hold. */
    static void read(Framer in, Framer.Then<? super HvmTailContext> then) throws StreamException {
        in.field("HVM_CTX_LEN", 4, f -> {
            long len = f.getInt() & 0xFFFF_FFFFL;
            if (len > in.limits().maxHvmContextBytes()) {
                throw in.fatal("hvm_ctx_len " + len + " exceeds " + in.limits().maxHvmContextBytes());
            }
            in.field("HVM_CTX", len, c -> {
                String problem = HvmContext.framingProblem(c);
                if (problem != null) {
                    throw in.record("HVM context: " + problem);
                }
                then.accept(new HvmTailContext(Bytes.of(c)));
            });
        });
    }
}
