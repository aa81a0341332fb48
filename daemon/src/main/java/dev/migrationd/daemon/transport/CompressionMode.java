package dev.migrationd.daemon.transport;

import dev.migrationd.daemon.engine.run.StreamCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code compression} setting of the peer link: which codecs this daemon offers as a source and accepts
 * as a destination. Immutable.
 *
 * <ul>
 *   <li>{@code auto} (default): as a source, offer LZ4 (then zstd) only when the migration has a bandwidth
 *       cap of at most {@link #AUTO_MAX_CAP}: there the link is the limit and compressing pays; without a cap
 *       (a fast local link, loopback) the compressor would be, so frames go plain. As a destination, accept
 *       whatever the source prefers among the codecs this process has.</li>
 *   <li>{@code lz4} / {@code zstd}: offer that codec on every migration, whatever the cap; accept only it.</li>
 *   <li>{@code off}: offer nothing, accept nothing: plain frames, as with a peer that predates compression.</li>
 * </ul>
 */
public enum CompressionMode {
    AUTO, LZ4, ZSTD, OFF;

    /**
     * The highest bandwidth cap under which {@code auto} compresses (256 MiB/s, 2 Gbit/s): LZ4 compresses
     * compressible guest memory at 390-540 MB/s on one core of the 2-core machine this was measured on, so
     * below this the link stays the limit, and the compressor steps aside by itself on memory that does not
     * compress.
     */
    public static final long AUTO_MAX_CAP = 256L << 20;

    /** Parses a setting's value ({@code auto}, {@code lz4}, {@code zstd}, {@code off}); null if it is none of them. */
    public static CompressionMode parse(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "lz4" -> LZ4;
            case "zstd" -> ZSTD;
            case "off" -> OFF;
            default -> null;
        };
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Why this setting cannot work in this process (zstd without its native library), or null. */
    public String problem() {
        return this == ZSTD && !FrameCodecs.available(StreamCodec.ZSTD)
                ? "compression zstd: the zstd native library does not load on this machine (use lz4 or auto)" : null;
    }

    /** Source: the codecs to offer for a migration with this bandwidth cap (0 = none), most preferred first. */
    public List<StreamCodec> offer(long bandwidthCap) {
        return switch (this) {
            case OFF -> List.of();
            case LZ4 -> List.of(StreamCodec.LZ4);
            case ZSTD -> available(List.of(StreamCodec.ZSTD));
            case AUTO -> bandwidthCap > 0 && bandwidthCap <= AUTO_MAX_CAP
                    ? available(List.of(StreamCodec.LZ4, StreamCodec.ZSTD)) : List.of();
        };
    }

    /** Destination: the first offered codec this setting accepts and this process has; NONE if there is none. */
    public StreamCodec choose(List<StreamCodec> offered) {
        for (StreamCodec c : offered) {
            boolean accepted = switch (this) {
                case OFF -> false;
                case AUTO -> true;
                case LZ4 -> c == StreamCodec.LZ4;
                case ZSTD -> c == StreamCodec.ZSTD;
            };
            if (accepted && c != StreamCodec.NONE && FrameCodecs.available(c)) {
                return c;
            }
        }
        return StreamCodec.NONE;
    }

    private static List<StreamCodec> available(List<StreamCodec> wanted) {
        List<StreamCodec> out = new ArrayList<>();
        for (StreamCodec c : wanted) {
            if (FrameCodecs.available(c)) {
                out.add(c);
            }
        }
        return List.copyOf(out);
    }
}
