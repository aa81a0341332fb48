package dev.migrationd.protocol;

/**
 * A word width: the saving toolstack's C {@code unsigned long} (W in the spec) or the guest's
 * word width (GW). The legacy stream carries neither; see {@code docs/wire-format-legacy.md} §2.
 */
public enum Width {
    W32(4),
    W64(8);

    private final int bytes;

    Width(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes of one {@code unsigned long} at this width: 4 or 8. */
    public int bytes() {
        return bytes;
    }

    public int bits() {
        return bytes * 8;
    }

    /** The width with {@code bits} bits (32 or 64). */
    public static Width ofBits(int bits) {
        return switch (bits) {
            case 32 -> W32;
            case 64 -> W64;
            default -> throw new IllegalArgumentException("width must be 32 or 64 bits, not " + bits);
        };
    }
}
