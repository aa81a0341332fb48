package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.x86.XsaveRecord;
import java.util.Objects;

/**
 * One online vcpu of the PV tail: canonicalised context (0x1430/0xAF0), the 128-byte extended context iff the
 * header had {@code extv} (else null), the XSAVE record iff the header had {@code xcnt} (else null).
 */
public record PvVcpuRecord(int vcpuId, Bytes context, Bytes extContext, XsaveRecord xsave) implements LegacyItem {
    public PvVcpuRecord {
        Objects.requireNonNull(context);
        if (extContext != null && extContext.size() != LegacyFormat.EXT_VCPU_CONTEXT_SIZE) {
            throw new IllegalArgumentException("extended context must be 128 bytes");
        }
    }

    @Override
    public String itemName() {
        return "PV_TAIL_VCPU";
    }
}
