package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;

/**
 * Emitted by the reader after each complete tail; carries no bytes. {@code index} counts from 0.
 * {@code last} is true when this checkpoint is the last (LAST_CHECKPOINT seen, or the reader is not in
 * checkpointed mode); for a checkpointed stream that ends without −9, the last CheckpointEnd has last=false
 * and the stream ends with EOF ({@code finish()}).
 */
public record CheckpointEnd(int index, boolean last) implements LegacyItem {
    @Override
    public String itemName() {
        return "CHECKPOINT_END";
    }

    /** Nothing: a checkpoint's end is where its tail ends. */
    @Override
    public void write(ByteSink sink, Width width) {
    }
}
