package dev.migrationd.protocol.legacy;

/** The end-of-body marker {@code i32 0}. */
public record EndOfBody() implements LegacyItem {
    @Override
    public String itemName() {
        return "END_OF_BODY";
    }
}
