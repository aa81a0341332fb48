package dev.migrationd.protocol;

/**
 * The type nibble of a page-batch PFN entry ({@code XEN_DOMCTL_PFINFO_* >> 28}); docs/wire-format-legacy.md §5.1,
 * docs/wire-format-v2.md §2.5. Nibbles 0x5–0x8 are not valid types and have no constant: {@link #fromNibble(int)}
 * throws for them.
 */
public enum PageType {
    NOTAB(0x0),
    L1TAB(0x1),
    L2TAB(0x2),
    L3TAB(0x3),
    L4TAB(0x4),
    L1TAB_PINNED(0x9),
    L2TAB_PINNED(0xA),
    L3TAB_PINNED(0xB),
    L4TAB_PINNED(0xC),
    BROKEN(0xD),
    XALLOC(0xE),
    XTAB(0xF);

    /** {@code XEN_DOMCTL_PFINFO_LTAB_SHIFT}. */
    public static final int LTAB_SHIFT = 28;
    /** {@code XEN_DOMCTL_PFINFO_LTAB_MASK}. */
    public static final int LTAB_MASK = 0xF000_0000;
    /** {@code XEN_DOMCTL_PFINFO_LPINTAB}. */
    public static final int LPINTAB = 0x8000_0000;
    /** {@code XEN_DOMCTL_PFINFO_LTABTYPE_MASK}: level bits without the pin bit. */
    public static final int LTABTYPE_MASK = 0x7000_0000;

    private static final PageType[] BY_NIBBLE = new PageType[16];

    static {
        for (PageType t : values()) {
            BY_NIBBLE[t.nibble] = t;
        }
    }

    private final int nibble;

    PageType(int nibble) {
        this.nibble = nibble;
    }

    /** The 4-bit type code. */
    public int nibble() {
        return nibble;
    }

    /** The full 32-bit {@code XEN_DOMCTL_PFINFO_*} value (nibble shifted to bits 31..28). */
    public int pfinfo() {
        return nibble << LTAB_SHIFT;
    }

    /** Whether an entry of this type is followed by a page of data (all but BROKEN, XALLOC, XTAB). */
    public boolean hasData() {
        return nibble < 0xD;
    }

    /** Whether this is a page-table page (L1–L4, pinned or not). */
    public boolean isPageTable() {
        return (nibble & 0x7) != 0 && nibble < 0xD;
    }

    public boolean isPinned() {
        return nibble >= 0x9 && nibble <= 0xC;
    }

    /** Page-table level 1–4, or 0 for a type that is not a page table. */
    public int level() {
        return isPageTable() ? nibble & 0x7 : 0;
    }

    /** The type for a nibble, or null when the nibble is not a valid type (0x5–0x8). */
    public static PageType fromNibbleOrNull(int nibble) {
        return nibble >= 0 && nibble < 16 ? BY_NIBBLE[nibble] : null;
    }

    /** The type for a nibble; throws IllegalArgumentException for 0x5–0x8 or out of range. */
    public static PageType fromNibble(int nibble) {
        PageType t = fromNibbleOrNull(nibble);
        if (t == null) {
            throw new IllegalArgumentException("invalid page type nibble 0x" + Integer.toHexString(nibble));
        }
        return t;
    }
}
