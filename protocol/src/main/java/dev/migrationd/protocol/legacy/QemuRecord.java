package dev.migrationd.protocol.legacy;

import java.util.Objects;

/** The QEMU record: 21-byte signature, then (u32 len +) state. */
public record QemuRecord(QemuSignature signature, Bytes state) implements LegacyItem {
    public QemuRecord {
        Objects.requireNonNull(signature);
        Objects.requireNonNull(state);
    }

    @Override
    public String itemName() {
        return "QEMU_RECORD";
    }
}
