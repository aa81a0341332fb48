package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.StreamException;

/**
 * What follows a checkpoint's END_OF_BODY (docs/wire-format-legacy.md §7): the PV tail or the HVM tail, each item read
 * by its record; the tail's last item ends the checkpoint ({@link BodySection#endCheckpoint}).
 */
sealed interface TailSection {

    /** The body ended; {@code vcpuInfo} is its VCPU_INFO (null for an HVM body that had none). */
    void begin(VcpuInfo vcpuInfo) throws StreamException;

    /** PV (§7.1): the unmapped PFNs, one record per online vCPU as VCPU_INFO lists them, the shared-info page. */
    final class Pv implements TailSection {
        private final Framer in;
        private final BodySection body;
        private final PvHeader header;
        private int[] vcpus;
        private int next;

        Pv(Framer in, BodySection body, PvHeader header) {
            this.in = in;
            this.body = body;
            this.header = header;
        }

        @Override
        public void begin(VcpuInfo vcpuInfo) throws StreamException {
            vcpus = vcpuInfo.onlineVcpus();
            next = 0;
            in.item(PvUnmappedPfns.ITEM, 0, in.offset());
            PvUnmappedPfns.read(in, header.p2mSize(), u -> {
                in.emit(u);
                nextVcpu();
            });
        }

        private void nextVcpu() throws StreamException {
            if (next < vcpus.length) {
                int vcpu = vcpus[next++];
                in.item(PvVcpuRecord.ITEM, vcpu, in.offset());
                PvVcpuRecord.read(in, vcpu, header, r -> {
                    in.emit(r);
                    nextVcpu();
                });
            } else {
                in.item(PvSharedInfo.ITEM, 0, in.offset());
                PvSharedInfo.read(in, s -> {
                    in.emit(s);
                    body.endCheckpoint();
                });
            }
        }
    }

    /** HVM (§7.2): the magic PFNs, the HVM context, the QEMU record. */
    final class Hvm implements TailSection {
        private final Framer in;
        private final BodySection body;

        Hvm(Framer in, BodySection body) {
            this.in = in;
            this.body = body;
        }

        @Override
        public void begin(VcpuInfo vcpuInfo) throws StreamException {
            in.item(HvmMagicPfns.ITEM, 0, in.offset());
            HvmMagicPfns.read(in, m -> {
                in.emit(m);
                in.item(HvmTailContext.ITEM, 0, in.offset());
                HvmTailContext.read(in, c -> {
                    in.emit(c);
                    in.item(QemuRecord.ITEM, 0, in.offset());
                    QemuRecord.read(in, this::qemu);
                });
            });
        }

        private void qemu(QemuRecord q) throws StreamException {
            in.emit(q);
            if (!q.signature().lengthPrefixed()) {
                body.lastCheckpoint();
            }
            body.endCheckpoint();
        }
    }
}
