package dev.migrationd.protocol.x86;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A minimal QEMU savevm stream, the content of the HVM tail's device-model record (docs/wire-format-legacy.md
 * §7.2, §10). QEMU's format is big-endian:
 *
 * <pre>
 *  u32 magic   "QEVM" (0x5145564D)
 *  u32 version 3
 *  u8  QEMU_VM_CONFIGURATION (7), u32 len, u8 machine name[len]
 *  u8  QEMU_VM_EOF (0)
 * </pre>
 *
 * Opaque to the streams; {@link #minimal(String)} is what {@code migrationctl stream synth} writes.
 */
public final class QemuSavevm {
    public static final int QEMU_VM_FILE_MAGIC = 0x5145564D;
    public static final int QEMU_VM_FILE_VERSION = 3;
    public static final int QEMU_VM_EOF = 0x00;
    public static final int QEMU_VM_CONFIGURATION = 0x07;
    /** The machine type of a Xen HVM guest's device model. */
    public static final String MACHINE_XENFV = "xenfv";

    private QemuSavevm() {
    }

    /** Header, a configuration section naming {@code machine}, EOF. */
    public static byte[] minimal(String machine) {
        byte[] name = machine.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(4 + 4 + 1 + 4 + name.length + 1);
        b.putInt(QEMU_VM_FILE_MAGIC).putInt(QEMU_VM_FILE_VERSION);
        b.put((byte) QEMU_VM_CONFIGURATION).putInt(name.length).put(name);
        b.put((byte) QEMU_VM_EOF);
        return b.array();
    }

    /** Whether {@code state} starts with the QEVM magic and version 3. */
    public static boolean hasSavevmHeader(byte[] state) {
        if (state.length < 8) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(state);
        return b.getInt(0) == QEMU_VM_FILE_MAGIC && b.getInt(4) == QEMU_VM_FILE_VERSION;
    }
}
