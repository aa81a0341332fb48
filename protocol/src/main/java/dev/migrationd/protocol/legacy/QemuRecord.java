package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/** The QEMU record ending the HVM tail (§7.2): 21-byte signature, then (u32 len +) state. */
public record QemuRecord(QemuSignature signature, Bytes state) implements LegacyItem {
    static final String ITEM = "QEMU_RECORD";

    public QemuRecord {
        Objects.requireNonNull(signature);
        Objects.requireNonNull(state);
    }

    @Override
    public String itemName() {
        return ITEM;
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        boolean toEof = !signature.lengthPrefixed();
        ByteBuffer b = Wire.alloc(LegacyFormat.QEMU_SIGNATURE_SIZE + (toEof ? 0 : 4) + state.size());
        b.put(signature.bytes());
        if (!toEof) {
            b.putInt(state.size());
        }
        state.copyTo(b);
        Wire.send(sink, b);
    }

    /**
     * Reads the signature, then {@code u32 len} (checked against the limit) and the state, or, for a
     * {@code QemuDeviceModelRecord}, the state up to the end of the stream: {@code then} gets it at end of input.
     */
    static void read(Framer in, Framer.Then<? super QemuRecord> then) throws StreamException {
        in.field("QEMU_SIG", LegacyFormat.QEMU_SIGNATURE_SIZE, f -> {
            byte[] sig = new byte[LegacyFormat.QEMU_SIGNATURE_SIZE];
            f.get(sig);
            QemuSignature signature = QemuSignature.fromBytesOrNull(sig, 0);
            if (signature == null) {
                throw in.fatal("unknown QEMU record signature '" + printable(sig) + "'");
            }
            if (!signature.lengthPrefixed()) {
                in.raw("QEMU_TO_EOF", new ToEof(in, then));
                return;
            }
            in.field("QEMU_LEN", 4, l -> {
                long len = l.getInt() & 0xFFFF_FFFFL;
                if (len > in.limits().maxQemuRecordBytes()) {
                    throw in.fatal("QEMU record length " + len + " exceeds " + in.limits().maxQemuRecordBytes());
                }
                in.field("QEMU_DATA", len, d -> then.accept(new QemuRecord(signature, Bytes.of(d))));
            });
        });
    }

    /** The state of a {@code QemuDeviceModelRecord}: every byte up to the end of the stream, within the limit. */
    private static final class ToEof implements Framer.Raw {
        private final Framer in;
        private final Framer.Then<? super QemuRecord> then;
        private byte[] state = new byte[256];
        private int length;

        ToEof(Framer in, Framer.Then<? super QemuRecord> then) {
            this.in = in;
            this.then = then;
        }

        @Override
        public void take(ByteBuffer from) throws StreamException {
            int take = from.remaining();
            int max = in.limits().maxQemuRecordBytes();
            if ((long) length + take > max) {
                throw in.fatal("QEMU state exceeds " + max + " bytes");
            }
            if (state.length < length + take) {
                state = Arrays.copyOf(state, (int) Math.min(Math.max(length + take, 2L * state.length), max));
            }
            from.get(state, length, take);
            length += take;
            in.advance(take);
        }

        @Override
        public long missing() {
            return 0;
        }

        @Override
        public void finish(Framer unused) throws StreamException {
            if (length < 4 || !(state[0] == 'Q' && state[1] == 'E' && state[2] == 'V' && state[3] == 'M')) {
                throw in.record("QemuDeviceModelRecord state does not start with \"QEVM\"");
            }
            then.accept(new QemuRecord(QemuSignature.QEMU_DEVICE_MODEL_RECORD, Bytes.of(state, 0, length)));
        }
    }

    private static String printable(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xFF;
            sb.append(c >= 0x20 && c < 0x7F ? (char) c : '?');
        }
        return sb.toString();
    }
}
