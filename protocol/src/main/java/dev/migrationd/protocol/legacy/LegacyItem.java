package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import dev.migrationd.protocol.x86.XsaveRecord;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One item of a legacy save stream, in stream order (legacy-stream.md). Everything is immutable except the
 * page views of a {@link PageBatch} produced by the reader (valid until its next {@code feed}).
 *
 * <p>Unsigned C fields ({@code u32}, {@code u64}) are carried in Java {@code int}/{@code long} bit for bit.
 */
public sealed interface LegacyItem permits LegacyItem.HvmHeader, LegacyItem.PvHeader, PageBatch, LegacyItem.Marker,
        LegacyItem.VcpuInfo, LegacyItem.HvmParam, LegacyItem.TscInfoChunk, LegacyItem.Tmem, LegacyItem.TmemExtra,
        LegacyItem.CompressedData, LegacyItem.Toolstack, LegacyItem.EndOfBody, LegacyItem.PvUnmappedPfns,
        LegacyItem.PvVcpuRecord, LegacyItem.PvSharedInfo, LegacyItem.HvmMagicPfns, LegacyItem.HvmTailContext,
        LegacyItem.QemuRecord, LegacyItem.CheckpointEnd {

    /** A short name for logs and errors, e.g. {@code XC_SAVE_ID_TSC_INFO}. */
    String itemName();

    // ------------------------------------------------------------------ header (§3)

    /** The HVM header: just {@code ulong p2m_size}. */
    record HvmHeader(long p2mSize) implements LegacyItem {
        public HvmHeader {
            checkP2mSize(p2mSize);
        }

        @Override
        public String itemName() {
            return "HEADER";
        }
    }

    /**
     * The PV header: p2m_size, extended info (vcpu0's raw context in the {@code "vcpu"} block, {@code "extv"}
     * presence, {@code "xcnt"} XSAVE record size) and the p2m frame list (PFNs; W-byte entries, count from GW).
     *
     * @param xsaveLen the {@code xcnt} value (16 + xcr0 pair + XSAVE area), or 0 when the block is absent
     */
    record PvHeader(long p2mSize, Bytes vcpuContext, boolean extv, int xsaveLen, long[] p2mFrames)
            implements LegacyItem {
        public PvHeader {
            checkP2mSize(p2mSize);
            Objects.requireNonNull(vcpuContext, "vcpuContext");
            if (vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_64
                    && vcpuContext.size() != LegacyFormat.VCPU_CONTEXT_SIZE_X86_32) {
                throw new IllegalArgumentException("vcpu context must be 0x1430 or 0xAF0 bytes, not 0x"
                        + Integer.toHexString(vcpuContext.size()));
            }
            if (xsaveLen < 0 || (xsaveLen != 0 && xsaveLen < LegacyFormat.XSAVE_RECORD_HEADER)) {
                throw new IllegalArgumentException("xsaveLen must be 0 (absent) or >= 16: " + xsaveLen);
            }
            p2mFrames = p2mFrames.clone();
            long n = LegacyFormat.p2mFrameCount(p2mSize, guestWidthOf(vcpuContext.size()));
            if (p2mFrames.length != n) {
                throw new IllegalArgumentException("p2m frame list needs " + n + " entries, got " + p2mFrames.length);
            }
        }

        /** The guest width implied by the vcpu context size (0x1430 → 64-bit, 0xAF0 → 32-bit PAE). */
        public Width guestWidth() {
            return guestWidthOf(vcpuContext.size());
        }

        @Override
        public long[] p2mFrames() {
            return p2mFrames.clone();
        }

        public int p2mFrameCount() {
            return p2mFrames.length;
        }

        public long p2mFrame(int i) {
            return p2mFrames[i];
        }

        /** The extended-info {@code total} as the sender writes it. */
        public int extInfoTotal() {
            return vcpuContext.size() + 8 + (extv ? 8 : 0) + (xsaveLen != 0 ? 12 : 0);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof PvHeader h && h.p2mSize == p2mSize && h.vcpuContext.equals(vcpuContext)
                    && h.extv == extv && h.xsaveLen == xsaveLen && Arrays.equals(h.p2mFrames, p2mFrames);
        }

        @Override
        public int hashCode() {
            return Objects.hash(p2mSize, vcpuContext, extv, xsaveLen, Arrays.hashCode(p2mFrames));
        }

        @Override
        public String toString() {
            return "PvHeader[p2mSize=0x" + Long.toHexString(p2mSize) + ", guestWidth=" + guestWidth() + ", extv=" + extv
                    + ", xsaveLen=" + xsaveLen + ", p2mFrames=" + p2mFrames.length + "]";
        }

        @Override
        public String itemName() {
            return "HEADER";
        }

        static Width guestWidthOf(int vcpuContextSize) {
            return vcpuContextSize == LegacyFormat.VCPU_CONTEXT_SIZE_X86_64 ? Width.W64 : Width.W32;
        }
    }

    // ------------------------------------------------------------------ body chunks (§6)

    /** A chunk without payload: {@code ENABLE_VERIFY_MODE} (−1), {@code LAST_CHECKPOINT} (−9), {@code ENABLE_COMPRESSION} (−13). */
    record Marker(ChunkType type) implements LegacyItem {
        public Marker {
            if (type != ChunkType.ENABLE_VERIFY_MODE && type != ChunkType.LAST_CHECKPOINT
                    && type != ChunkType.ENABLE_COMPRESSION) {
                throw new IllegalArgumentException(type + " has a payload");
            }
        }

        @Override
        public String itemName() {
            return type.xenName();
        }
    }

    /**
     * {@code VCPU_INFO} (−2): {@code i32 max_vcpu_id, u64 vcpumap[max_vcpu_id/64 + 1]}.
     */
    record VcpuInfo(int maxVcpuId, long[] vcpumap) implements LegacyItem {
        public VcpuInfo {
            if (maxVcpuId < 0 || maxVcpuId >= LegacyFormat.XC_SR_MAX_VCPUS) {
                throw new IllegalArgumentException("max_vcpu_id must be in 0..4095: " + maxVcpuId);
            }
            if (vcpumap.length != maxVcpuId / 64 + 1) {
                throw new IllegalArgumentException("vcpumap needs " + (maxVcpuId / 64 + 1) + " words");
            }
            vcpumap = vcpumap.clone();
        }

        /** Online map with the given vcpus (max_vcpu_id = the largest). */
        public static VcpuInfo ofOnline(int... vcpus) {
            int max = 0;
            for (int v : vcpus) {
                max = Math.max(max, v);
            }
            long[] map = new long[max / 64 + 1];
            for (int v : vcpus) {
                map[v / 64] |= 1L << (v % 64);
            }
            return new VcpuInfo(max, map);
        }

        @Override
        public long[] vcpumap() {
            return vcpumap.clone();
        }

        public boolean online(int vcpu) {
            return vcpu >= 0 && vcpu <= maxVcpuId && (vcpumap[vcpu / 64] & (1L << (vcpu % 64))) != 0;
        }

        /** Online vcpu ids in ascending order, up to max_vcpu_id (bits above it are ignored, as Xen does). */
        public int[] onlineVcpus() {
            int n = 0;
            for (int i = 0; i <= maxVcpuId; i++) {
                if (online(i)) {
                    n++;
                }
            }
            int[] r = new int[n];
            n = 0;
            for (int i = 0; i <= maxVcpuId; i++) {
                if (online(i)) {
                    r[n++] = i;
                }
            }
            return r;
        }

        /** Payload bytes after the id. */
        public int payloadSize() {
            return 4 + 8 * vcpumap.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof VcpuInfo v && v.maxVcpuId == maxVcpuId && Arrays.equals(v.vcpumap, vcpumap);
        }

        @Override
        public int hashCode() {
            return 31 * maxVcpuId + Arrays.hashCode(vcpumap);
        }

        @Override
        public String toString() {
            return "VcpuInfo[maxVcpuId=" + maxVcpuId + ", vcpumap=" + Arrays.toString(vcpumap) + "]";
        }

        @Override
        public String itemName() {
            return ChunkType.VCPU_INFO.xenName();
        }
    }

    /** One of the HVM "pad+u64" chunks (§6.3): {@code i32 id, u32 pad = 0, u64 value}. */
    record HvmParam(ChunkType type, long value) implements LegacyItem {
        public HvmParam {
            if (!type.isHvmParam()) {
                throw new IllegalArgumentException(type + " is not an HVM param chunk");
            }
        }

        @Override
        public String itemName() {
            return type.xenName();
        }
    }

    /** {@code TSC_INFO} (−7): {@code u32 tsc_mode, u64 nsec, u32 khz, u32 incarnation} (20 bytes, nsec before khz). */
    record TscInfoChunk(TscInfo tsc) implements LegacyItem {
        public TscInfoChunk {
            Objects.requireNonNull(tsc, "tsc");
        }

        @Override
        public String itemName() {
            return ChunkType.TSC_INFO.xenName();
        }
    }

    /** One TMEM page record: {@code u64 oid[3], u32 index, u8 data[pagesize]}. */
    record TmemPage(long oid0, long oid1, long oid2, int index, Bytes data) {
        public TmemPage {
            Objects.requireNonNull(data);
        }
    }

    /**
     * One TMEM pool: {@code u32 pool_id, u32 flags, u32 n_pages, u64 uuid[2]}, then up to n_pages page records,
     * optionally ended early by a lone all-ones oid ({@code earlyEnd}).
     */
    record TmemPool(int poolId, int flags, int nPages, long uuid0, long uuid1, List<TmemPage> pages,
                    boolean earlyEnd) {
        public TmemPool {
            pages = List.copyOf(pages);
            if (poolId == LegacyFormat.TMEM_END) {
                throw new IllegalArgumentException("pool id 0xFFFFFFFF is the list terminator");
            }
            if (Integer.compareUnsigned(pages.size(), nPages) > 0) {
                throw new IllegalArgumentException("more pages than n_pages");
            }
            if (earlyEnd && Integer.compareUnsigned(pages.size(), nPages) >= 0) {
                throw new IllegalArgumentException("an early end needs fewer pages than n_pages");
            }
            if (!earlyEnd && pages.size() != nPages) {
                throw new IllegalArgumentException("n_pages=" + Integer.toUnsignedString(nPages) + " but "
                        + pages.size() + " pages and no early end");
            }
            if ((flags & LegacyFormat.TMEM_POOL_PERSIST) == 0 && nPages != 0) {
                throw new IllegalArgumentException("non-persistent pool with n_pages != 0");
            }
            int ps = pageSize(flags);
            for (TmemPage p : pages) {
                if (p.data().size() != ps) {
                    throw new IllegalArgumentException("tmem page must be " + ps + " bytes");
                }
            }
        }

        /** {@code 1 << (((flags >> 4) & 0xF) + 12)}. */
        public static int pageSize(int flags) {
            return 1 << (((flags >>> 4) & 0xF) + 12);
        }
    }

    /** {@code TMEM} (−5), structurally (§6.5, Xen ≥ 4.1 layout with 24-byte oids). */
    record Tmem(int version, int maxPools, int clientFlags, int weight, int cap, List<TmemPool> pools)
            implements LegacyItem {
        public Tmem {
            pools = List.copyOf(pools);
        }

        @Override
        public String itemName() {
            return ChunkType.TMEM.xenName();
        }
    }

    /** One TMEM_EXTRA invalidation: {@code u32 pool_id, u64 oid[3], u32 index}. */
    record TmemInvalidation(int poolId, long oid0, long oid1, long oid2, int index) {
        public TmemInvalidation {
            if (poolId == LegacyFormat.TMEM_END) {
                throw new IllegalArgumentException("pool id 0xFFFFFFFF is the list terminator");
            }
        }
    }

    /** {@code TMEM_EXTRA} (−6): invalidations terminated by pool id 0xFFFFFFFF. */
    record TmemExtra(List<TmemInvalidation> invalidations) implements LegacyItem {
        public TmemExtra {
            invalidations = List.copyOf(invalidations);
        }

        @Override
        public String itemName() {
            return ChunkType.TMEM_EXTRA.xenName();
        }
    }

    /** {@code COMPRESSED_DATA} (−12): {@code ulong len, u8 data[len]}; see {@link CheckpointCompression}. */
    record CompressedData(Bytes data) implements LegacyItem {
        public CompressedData {
            Objects.requireNonNull(data);
        }

        @Override
        public String itemName() {
            return ChunkType.COMPRESSED_DATA.xenName();
        }
    }

    /** {@code TOOLSTACK} (−18): {@code u32 len, u8 data[len]}, opaque (libxl's layout: {@link ToolstackPhysmap}). */
    record Toolstack(Bytes data) implements LegacyItem {
        public Toolstack {
            Objects.requireNonNull(data);
        }

        @Override
        public String itemName() {
            return ChunkType.TOOLSTACK.xenName();
        }
    }

    /** The end-of-body marker {@code i32 0}. */
    record EndOfBody() implements LegacyItem {
        @Override
        public String itemName() {
            return "END_OF_BODY";
        }
    }

    // ------------------------------------------------------------------ PV tail (§7.1)

    /** {@code u32 nr_unmapped, ulong unmapped_pfn[nr_unmapped]}. */
    record PvUnmappedPfns(long[] pfns) implements LegacyItem {
        public PvUnmappedPfns {
            pfns = pfns.clone();
        }

        @Override
        public long[] pfns() {
            return pfns.clone();
        }

        public int count() {
            return pfns.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof PvUnmappedPfns u && Arrays.equals(u.pfns, pfns);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(pfns);
        }

        @Override
        public String toString() {
            return "PvUnmappedPfns[" + pfns.length + "]";
        }

        @Override
        public String itemName() {
            return "PV_TAIL_UNMAPPED_PFNS";
        }
    }

    /**
     * One online vcpu of the PV tail: canonicalised context (0x1430/0xAF0), the 128-byte extended context iff the
     * header had {@code extv} (else null), the XSAVE record iff the header had {@code xcnt} (else null).
     */
    record PvVcpuRecord(int vcpuId, Bytes context, Bytes extContext, XsaveRecord xsave) implements LegacyItem {
        public PvVcpuRecord {
            Objects.requireNonNull(context);
            if (extContext != null && extContext.size() != LegacyFormat.EXT_VCPU_CONTEXT_SIZE) {
                throw new IllegalArgumentException("extended context must be 128 bytes");
            }
        }

        @Override
        public String itemName() {
            return "PV_TAIL_VCPU";
        }
    }

    /** The shared-info page (4096 bytes) ending the PV tail (its layout: {@link dev.migrationd.protocol.x86.SharedInfo}). */
    record PvSharedInfo(Bytes page) implements LegacyItem {
        public PvSharedInfo {
            if (page.size() != LegacyFormat.SHARED_INFO_SIZE) {
                throw new IllegalArgumentException("shared info must be 4096 bytes");
            }
        }

        @Override
        public String itemName() {
            return "PV_TAIL_SHARED_INFO";
        }
    }

    // ------------------------------------------------------------------ HVM tail (§7.2)

    /** {@code u64 ioreq_pfn, u64 bufioreq_pfn, u64 store_pfn}: three HVM params, carried in the tail. */
    record HvmMagicPfns(long ioreqPfn, long bufioreqPfn, long storePfn) implements LegacyItem {

        /** The {@code HVM_PARAM_*} indexes of the three PFNs, in wire order. */
        public static final List<Integer> HVM_PARAMS = List.of(HvmParamIndex.HVM_PARAM_IOREQ_PFN,
                HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, HvmParamIndex.HVM_PARAM_STORE_PFN);

        /** The PFNs from the HVM params that hold them ({@code HVM_PARAM_*} index → value; 0 where absent). */
        public static HvmMagicPfns fromHvmParams(Map<Integer, Long> params) {
            return new HvmMagicPfns(params.getOrDefault(HvmParamIndex.HVM_PARAM_IOREQ_PFN, 0L),
                    params.getOrDefault(HvmParamIndex.HVM_PARAM_BUFIOREQ_PFN, 0L),
                    params.getOrDefault(HvmParamIndex.HVM_PARAM_STORE_PFN, 0L));
        }

        /** The PFNs as HVM params ({@code HVM_PARAM_*} index → value), in wire order. */
        public Map<Integer, Long> hvmParams() {
            long[] pfns = {ioreqPfn, bufioreqPfn, storePfn};
            Map<Integer, Long> m = new LinkedHashMap<>();
            for (int i = 0; i < pfns.length; i++) {
                m.put(HVM_PARAMS.get(i), pfns[i]);
            }
            return m;
        }
        @Override
        public String itemName() {
            return "HVM_TAIL_MAGIC_PFNS";
        }
    }

    /**
     * The HVM tail's context, {@code u32 hvm_ctx_len, u8 hvm_ctx[len]}: the blob of an
     * {@link dev.migrationd.protocol.x86.HvmContext} (HEADER record … END, §10), carried as the sender wrote it.
     * Readers and writers check its framing ({@code HvmContext.framingProblem}); {@code HvmContext.parse} reads
     * its records.
     */
    record HvmTailContext(Bytes blob) implements LegacyItem {
        public HvmTailContext {
            Objects.requireNonNull(blob);
        }

        @Override
        public String itemName() {
            return "HVM_TAIL_CONTEXT";
        }
    }

    /** The QEMU record: 21-byte signature, then (u32 len +) state. */
    record QemuRecord(QemuSignature signature, Bytes state) implements LegacyItem {
        public QemuRecord {
            Objects.requireNonNull(signature);
            Objects.requireNonNull(state);
        }

        @Override
        public String itemName() {
            return "QEMU_RECORD";
        }
    }

    // ------------------------------------------------------------------ checkpoints (§9)

    /**
     * Emitted by the reader after each complete tail; carries no bytes. {@code index} counts from 0.
     * {@code last} is true when this checkpoint is the last (LAST_CHECKPOINT seen, or the reader is not in
     * checkpointed mode); for a checkpointed stream that ends without −9, the last CheckpointEnd has last=false
     * and the stream ends with EOF ({@code finish()}).
     */
    record CheckpointEnd(int index, boolean last) implements LegacyItem {
        @Override
        public String itemName() {
            return "CHECKPOINT_END";
        }
    }

    private static void checkP2mSize(long p2mSize) {
        if (p2mSize < 1 || p2mSize > LegacyFormat.MAX_P2M_SIZE) {
            throw new IllegalArgumentException("p2m_size must be in 1..0x0FFFFFFF: 0x" + Long.toHexString(p2mSize));
        }
    }
}
