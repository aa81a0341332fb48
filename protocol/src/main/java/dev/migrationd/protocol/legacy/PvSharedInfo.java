package dev.migrationd.protocol.legacy;

/** The shared-info page (4096 bytes) ending the PV tail (its layout: {@link dev.migrationd.protocol.x86.SharedInfo}). */
public record PvSharedInfo(Bytes page) implements LegacyItem {
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
