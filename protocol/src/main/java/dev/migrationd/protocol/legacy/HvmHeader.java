package dev.migrationd.protocol.legacy;

/** The HVM header: just {@code ulong p2m_size}. */
public record HvmHeader(long p2mSize) implements LegacyItem {
    public HvmHeader {
        LegacyFormat.checkP2mSize(p2mSize);
    }

    @Override
    public String itemName() {
        return "HEADER";
    }
}
