package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.Width;
import java.io.IOException;

/**
 * One item of a legacy save stream, in stream order (docs/wire-format-legacy.md). Everything is immutable except
 * the page views of a {@link PageBatch} produced by the reader (valid until its next {@code feed}).
 *
 * <p>Each item reads and writes itself: a package-private {@code read} that takes its fields from the reader's
 * {@link Framer} in the order they stand on the wire, and {@link #write}, side by side.
 *
 * <p>Unsigned C fields ({@code u32}, {@code u64}) are carried in Java {@code int}/{@code long} bit for bit.
 */
public sealed interface LegacyItem permits HvmHeader, PvHeader, PageBatch, Marker, VcpuInfo, HvmParam, TscInfoChunk,
        Tmem, TmemExtra, CompressedData, Toolstack, EndOfBody, PvUnmappedPfns, PvVcpuRecord, PvSharedInfo, HvmMagicPfns,
        HvmTailContext, QemuRecord, CheckpointEnd {

    /** A short name for logs and errors, e.g. {@code XC_SAVE_ID_TSC_INFO}. */
    String itemName();

    /**
     * Puts this item's bytes on the wire for toolstack width {@code width}: its fields in fresh buffers, page and
     * compressed data as views (see {@link ByteSink}). Only the item's own layout: the stream's order and
     * consistency rules are {@link LegacyStreamWriter}'s, checked before it calls this. A value that does not fit
     * width 4 throws IllegalArgumentException before anything is written. {@link CheckpointEnd} writes nothing.
     */
    void write(ByteSink sink, Width width) throws IOException;
}
