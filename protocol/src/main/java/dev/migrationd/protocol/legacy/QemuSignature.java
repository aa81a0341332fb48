package dev.migrationd.protocol.legacy;

import java.nio.charset.StandardCharsets;

/** The 21-byte signature that opens the QEMU record at the end of an HVM tail (docs/wire-format-legacy.md §7.2). */
public enum QemuSignature {
    /** xend: QEMU state (starting with "QEVM") until the end of the stream, no length. */
    QEMU_DEVICE_MODEL_RECORD("QemuDeviceModelRecord", false),
    /** libxl 4.1–4.5: u32 length + state. The only one {@code convert-legacy-stream} accepts. */
    DEVICE_MODEL_RECORD_0002("DeviceModelRecord0002", true),
    /** Remus (4.0+): u32 length + state, after every checkpoint. */
    REMUS_DEVICE_MODEL_STATE("RemusDeviceModelState", true);

    private final String text;
    private final boolean lengthPrefixed;

    QemuSignature(String text, boolean lengthPrefixed) {
        this.text = text;
        this.lengthPrefixed = lengthPrefixed;
    }

    /** The ASCII signature as written. */
    public String text() {
        return text;
    }

    public byte[] bytes() {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    /** Whether a u32 length follows (false: the state runs to the end of the stream). */
    public boolean lengthPrefixed() {
        return lengthPrefixed;
    }

    /** The signature with these 21 bytes, or null. */
    public static QemuSignature fromBytesOrNull(byte[] b, int off) {
        for (QemuSignature s : values()) {
            byte[] t = s.bytes();
            boolean eq = true;
            for (int i = 0; i < t.length && eq; i++) {
                eq = b[off + i] == t[i];
            }
            if (eq) {
                return s;
            }
        }
        return null;
    }
}
