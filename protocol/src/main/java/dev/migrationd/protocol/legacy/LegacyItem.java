package dev.migrationd.protocol.legacy;

/**
 * One item of a legacy save stream, in stream order (legacy-stream.md). Everything is immutable except the
 * page views of a {@link PageBatch} produced by the reader (valid until its next {@code feed}).
 *
 * <p>Unsigned C fields ({@code u32}, {@code u64}) are carried in Java {@code int}/{@code long} bit for bit.
 */
public sealed interface LegacyItem permits HvmHeader, PvHeader, PageBatch, Marker, VcpuInfo, HvmParam, TscInfoChunk, Tmem,
        TmemExtra, CompressedData, Toolstack, EndOfBody, PvUnmappedPfns, PvVcpuRecord, PvSharedInfo, HvmMagicPfns,
        HvmTailContext, QemuRecord, CheckpointEnd {

    /** A short name for logs and errors, e.g. {@code XC_SAVE_ID_TSC_INFO}. */
    String itemName();
}
