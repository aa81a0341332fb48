package dev.migrationd.protocol;

/**
 * Every bound a reader applies to a length or count read from an untrusted stream, before it sizes
 * an allocation or indexes memory. {@link #DEFAULT} follows Xen's own limits; a caller may tighten
 * them (the daemon's receiver sets {@code maxP2mSize} from the offer it accepted).
 *
 * @param maxP2mSize          largest p2m_size accepted (Xen: 0x0FFFFFFF + 1, the 28-bit PFN field)
 * @param maxBatchEntries     largest page batch ({@code MAX_BATCH_SIZE} = 1024)
 * @param maxVcpus            largest vCPU count ({@code XC_SR_MAX_VCPUS} = 4096)
 * @param maxExtInfoBytes     largest PV extended-info block total
 * @param maxXsaveBytes       largest per-vCPU XSAVE record
 * @param maxHvmContextBytes  largest HVM context blob
 * @param maxQemuRecordBytes  largest device-model record
 * @param maxToolstackBytes   largest TOOLSTACK chunk payload
 * @param maxCompressedChunk  largest COMPRESSED_DATA chunk payload
 * @param maxRecordBytes      largest v2 record body (Xen's REC_LENGTH_MAX is 2^22 for PAGE_DATA batches of 1024)
 * @param maxUnmappedPfns     largest PV-tail unmapped-PFN list
 * @param maxTmemBytes        largest legacy TMEM / TMEM_EXTRA chunk payload (the chunks carry no length; the
 *                            reader counts bytes as it parses them)
 */
public record StreamLimits(
        long maxP2mSize,
        int maxBatchEntries,
        int maxVcpus,
        int maxExtInfoBytes,
        int maxXsaveBytes,
        int maxHvmContextBytes,
        int maxQemuRecordBytes,
        int maxToolstackBytes,
        int maxCompressedChunk,
        int maxRecordBytes,
        int maxUnmappedPfns,
        int maxTmemBytes) {

    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;
    /** {@code MAX_BATCH_SIZE}. */
    public static final int MAX_BATCH_SIZE = 1024;
    /** {@code XC_SR_MAX_VCPUS}. */
    public static final int XC_SR_MAX_VCPUS = 4096;
    /** p2m_size must stay within the 28-bit PFN field of a legacy batch entry. */
    public static final long MAX_P2M_SIZE = 1L << 28;

    public static final StreamLimits DEFAULT = new StreamLimits(
            MAX_P2M_SIZE,
            MAX_BATCH_SIZE,
            XC_SR_MAX_VCPUS,
            64 * 1024,
            1 << 20,
            16 << 20,
            64 << 20,
            1 << 20,
            64 << 20,
            (MAX_BATCH_SIZE * (PAGE_SIZE + 8)) + 16,
            1 << 28,
            64 << 20);

    public StreamLimits {
        if (maxP2mSize <= 0 || maxP2mSize > MAX_P2M_SIZE) {
            throw new IllegalArgumentException("maxP2mSize must be in 1.." + MAX_P2M_SIZE);
        }
        if (maxBatchEntries < 1 || maxBatchEntries > MAX_BATCH_SIZE) {
            throw new IllegalArgumentException("maxBatchEntries must be in 1.." + MAX_BATCH_SIZE);
        }
        if (maxVcpus < 1 || maxVcpus > XC_SR_MAX_VCPUS) {
            throw new IllegalArgumentException("maxVcpus must be in 1.." + XC_SR_MAX_VCPUS);
        }
        if (maxExtInfoBytes < 0 || maxXsaveBytes < 0 || maxHvmContextBytes < 0 || maxQemuRecordBytes < 0
                || maxToolstackBytes < 0 || maxCompressedChunk < 0 || maxRecordBytes < 0 || maxUnmappedPfns < 0
                || maxTmemBytes < 0) {
            throw new IllegalArgumentException("limits must not be negative");
        }
    }

    /** The limits without {@code maxTmemBytes} (kept for callers written before it existed): 64 MiB. */
    public StreamLimits(long maxP2mSize, int maxBatchEntries, int maxVcpus, int maxExtInfoBytes, int maxXsaveBytes,
                        int maxHvmContextBytes, int maxQemuRecordBytes, int maxToolstackBytes, int maxCompressedChunk,
                        int maxRecordBytes, int maxUnmappedPfns) {
        this(maxP2mSize, maxBatchEntries, maxVcpus, maxExtInfoBytes, maxXsaveBytes, maxHvmContextBytes,
                maxQemuRecordBytes, maxToolstackBytes, maxCompressedChunk, maxRecordBytes, maxUnmappedPfns, 64 << 20);
    }

    /** These limits with a smaller p2m bound (the receiver's accepted guest size). */
    public StreamLimits withMaxP2mSize(long p2mSize) {
        return new StreamLimits(p2mSize, maxBatchEntries, maxVcpus, maxExtInfoBytes, maxXsaveBytes,
                maxHvmContextBytes, maxQemuRecordBytes, maxToolstackBytes, maxCompressedChunk, maxRecordBytes,
                maxUnmappedPfns, maxTmemBytes);
    }
}
