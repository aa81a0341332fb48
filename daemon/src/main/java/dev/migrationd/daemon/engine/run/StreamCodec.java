package dev.migrationd.daemon.engine.run;

import java.util.Locale;

/**
 * How the save stream's bytes travel between two daemons: as they are, or compressed frame by frame. The
 * source offers the codecs it has in its Offer, the destination names the one it picked (or none) in its
 * Accept (docs/handover.md §2.2). The save stream itself is the same either way.
 */
public enum StreamCodec {
    /** Plain stream-data frames (what a peer that knows nothing of compression sends and expects). */
    NONE,
    /** LZ4 block compression: cheap enough to pay off on links up to a few Gbit/s. */
    LZ4,
    /** Zstandard (level 1): smaller than LZ4, about half as fast. */
    ZSTD;

    /** Lower-case name, as in settings, logs and the control API. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
