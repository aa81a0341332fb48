package dev.migrationd.daemon.transport;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import dev.migrationd.daemon.engine.run.StreamCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The block codecs of compressed stream-data frames ({@link PeerFrame#TYPE_COMPRESSED_STREAM_DATA}): a
 * payload is the codec's id (u8), the decompressed length (u32, big-endian) and one compressed block of
 * that codec (an LZ4 block; a Zstandard frame).
 *
 * <p>A peer's frame is untrusted: its declared length is checked against {@link #MAX_DECOMPRESSED_BYTES}
 * before it sizes the output, the decompressor is never allowed to write more than that, and the result
 * must be exactly the declared length. Stateless; any thread (the codec instances are thread-safe).
 */
public final class FrameCodecs {

    private static final Logger LOG = LoggerFactory.getLogger(FrameCodecs.class);

    /**
     * Most bytes one compressed frame may decompress to: what one plain stream-data frame may carry. A
     * frame declaring more is refused before anything is allocated (a decompression bomb).
     */
    public static final int MAX_DECOMPRESSED_BYTES = PeerFrame.MAX_STREAM_DATA_BYTES;
    /** Zstandard's level: its fastest regular one (about 250-400 MB/s on guest memory here, a third of LZ4). */
    static final int ZSTD_LEVEL = 1;

    static final byte ID_LZ4 = 1;
    static final byte ID_ZSTD = 2;

    private static final LZ4Compressor LZ4_COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
    private static final LZ4SafeDecompressor LZ4_DECOMPRESSOR = LZ4Factory.fastestInstance().safeDecompressor();
    private static final boolean ZSTD_LOADED = loadZstd();

    private FrameCodecs() {
    }

    private static boolean loadZstd() {
        try {
            com.github.luben.zstd.util.Native.load();
            return true;
        } catch (Throwable t) { // UnsatisfiedLinkError or a missing library: zstd is simply not offered
            LOG.warn("event=codec_unavailable codec=zstd reason=\"{}\"", t.toString());
            return false;
        }
    }

    /** Whether this process can use {@code codec} (zstd needs its native library). */
    public static boolean available(StreamCodec codec) {
        return switch (codec) {
            case NONE, LZ4 -> true;
            case ZSTD -> ZSTD_LOADED;
        };
    }

    static byte id(StreamCodec codec) {
        return switch (codec) {
            case LZ4 -> ID_LZ4;
            case ZSTD -> ID_ZSTD;
            case NONE -> throw new IllegalArgumentException("no id for uncompressed frames");
        };
    }

    /**
     * Compresses {@code src} (its remaining bytes, a direct buffer) into {@code dst} from its position, using
     * at most {@code dst.remaining()} bytes.
     *
     * @return the compressed length, or -1 if the block does not fit (the data does not compress that well)
     */
    static int compress(StreamCodec codec, ByteBuffer src, ByteBuffer dst) {
        try {
            return switch (codec) {
                case LZ4 -> LZ4_COMPRESSOR.compress(src, src.position(), src.remaining(), dst, dst.position(), dst.remaining());
                case ZSTD -> Math.toIntExact(Zstd.compressDirectByteBuffer(dst, dst.position(), dst.remaining(), src,
                        src.position(), src.remaining(), ZSTD_LEVEL));
                case NONE -> throw new IllegalArgumentException("nothing to compress with");
            };
        } catch (LZ4Exception | ZstdException e) {
            return -1; // "destination too small": the output bound is the worthwhile size
        }
    }

    /**
     * Decompresses one compressed frame's payload (not consumed; the caller releases it) into a new direct
     * buffer of exactly the declared length.
     *
     * @param expected the codec the hand-over negotiated ({@link StreamCodec#NONE}: none was, so no compressed
     *                 frame is acceptable)
     * @throws PeerProtocolException naming the problem: no codec negotiated, another codec, a declared length
     *                               outside 1..{@link #MAX_DECOMPRESSED_BYTES}, a corrupt block, a length mismatch
     */
    static ByteBuf decompress(StreamCodec expected, ByteBuf payload, ByteBufAllocator alloc) throws PeerProtocolException {
        if (expected == StreamCodec.NONE) {
            throw new PeerProtocolException("compressed stream data, but the hand-over negotiated no compression");
        }
        int at = payload.readerIndex();
        byte id = payload.getByte(at);
        if (id != id(expected)) {
            throw new PeerProtocolException("compressed stream data with codec id " + (id & 0xFF) + ", but "
                    + expected.label() + " (id " + id(expected) + ") was negotiated");
        }
        long declared = payload.getUnsignedInt(at + 1);
        if (declared < 1 || declared > MAX_DECOMPRESSED_BYTES) {
            throw new PeerProtocolException("compressed frame declares " + declared + " decompressed bytes, outside 1.."
                    + MAX_DECOMPRESSED_BYTES + " (MAX_DECOMPRESSED_BYTES)");
        }
        int n = (int) declared;
        int blockLength = payload.readableBytes() - PeerFrame.COMPRESSED_HEADER_BYTES;
        ByteBuffer block = payload.nioBuffer(at + PeerFrame.COMPRESSED_HEADER_BYTES, blockLength);
        ByteBuf out = alloc.directBuffer(n, n);
        boolean ok = false;
        try {
            ByteBuffer dst = out.nioBuffer(0, n);
            int got;
            try {
                got = switch (expected) {
                    case LZ4 -> LZ4_DECOMPRESSOR.decompress(block, block.position(), blockLength, dst, 0, n);
                    case ZSTD -> zstdDecompress(block, dst, n);
                    case NONE -> throw new IllegalStateException("checked above");
                };
            } catch (LZ4Exception | ZstdException e) {
                throw new PeerProtocolException("corrupt " + expected.label() + " block: " + e.getMessage()
                        + " (at most " + n + " bytes declared)");
            }
            if (got != n) {
                throw new PeerProtocolException("compressed frame declares " + n + " bytes but holds " + got);
            }
            out.writerIndex(n);
            ok = true;
            return out;
        } finally {
            if (!ok) {
                out.release();
            }
        }
    }

    /** zstd-jni decompresses between direct buffers only; a heap block (NIO transport) is copied first. */
    private static int zstdDecompress(ByteBuffer block, ByteBuffer dst, int max) {
        ByteBuffer src = block;
        if (!src.isDirect()) {
            src = ByteBuffer.allocateDirect(block.remaining()).put(block.duplicate()).flip();
        }
        return Math.toIntExact(Zstd.decompressDirectByteBuffer(dst, 0, max, src, src.position(), src.remaining()));
    }
}
