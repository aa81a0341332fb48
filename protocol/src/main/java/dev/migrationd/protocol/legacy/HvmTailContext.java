package dev.migrationd.protocol.legacy;

import java.util.Objects;

/**
 * The HVM tail's context, {@code u32 hvm_ctx_len, u8 hvm_ctx[len]}: the blob of an
 * {@link dev.migrationd.protocol.x86.HvmContext} (HEADER record … END, §10), carried as the sender wrote it.
 * Readers and writers check its framing ({@code HvmContext.framingProblem}); {@code HvmContext.parse} reads
 * its records.
 */
public record HvmTailContext(Bytes blob) implements LegacyItem {
    public HvmTailContext {
        Objects.requireNonNull(blob);
    }

    @Override
    public String itemName() {
        return "HVM_TAIL_CONTEXT";
    }
}
