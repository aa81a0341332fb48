package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;

/**
 * The libxc records whose body is one opaque or array blob, carried as a view:
 * HVM_CONTEXT (0x09, non-empty), TOOLSTACK (0x0B, deprecated), CHECKPOINT_DIRTY_PFN_LIST (0x0F,
 * {@code u64 pfn[]}, COLO back channel), X86_CPUID_POLICY (0x11, 24-octet leaves) and
 * X86_MSR_POLICY (0x12, 16-octet entries).
 * <pre>
 *  0                      n
 * +----------------------+
 * | data[n]              |
 * +----------------------+
 * </pre>
 * The stream reader rejects TOOLSTACK and CHECKPOINT_DIRTY_PFN_LIST in a forward stream, as
 * {@code verify-stream-v2} does; the writer can still produce them.
 */
public record BlobRecord(RecordType type, ByteBuffer data) implements LibxcRecord {
    public BlobRecord {
        switch (type) {
            case HVM_CONTEXT, TOOLSTACK, CHECKPOINT_DIRTY_PFN_LIST, X86_CPUID_POLICY, X86_MSR_POLICY -> { }
            default -> throw new IllegalArgumentException(type + " is not a blob record");
        }
        data = Bodies.view(data);
        String problem = check(type, data.remaining(), StreamLimits.DEFAULT);
        if (problem != null) {
            throw new IllegalArgumentException(type + ": " + problem);
        }
    }

    public static BlobRecord hvmContext(ByteBuffer blob) {
        return new BlobRecord(RecordType.HVM_CONTEXT, blob);
    }

    /** A fresh read-only view of the data. */
    @Override
    public ByteBuffer data() {
        return Bodies.view(data);
    }

    /** The length rule of each blob type, or null when {@code len} satisfies it. */
    static String check(RecordType type, long len, StreamLimits limits) {
        return switch (type) {
            case HVM_CONTEXT -> len == 0 ? "empty HVM context"
                    : len > limits.maxHvmContextBytes() ? "HVM context of " + len + " bytes exceeds "
                    + limits.maxHvmContextBytes() : null;
            case X86_CPUID_POLICY -> len == 0 || len % V2Format.X86_CPUID_POLICY_ENTRY_SIZE != 0
                    ? "length " + len + " is not a non-zero multiple of 24" : null;
            case X86_MSR_POLICY -> len == 0 || len % V2Format.X86_MSR_POLICY_ENTRY_SIZE != 0
                    ? "length " + len + " is not a non-zero multiple of 16" : null;
            case CHECKPOINT_DIRTY_PFN_LIST -> len % 8 != 0 ? "length " + len + " is not a multiple of 8" : null;
            default -> null;
        };
    }

    static BlobRecord read(RecordType type, ByteBuffer body, long offset, StreamLimits limits)
            throws RecordException {
        String problem = check(type, body.remaining(), limits);
        if (problem != null) {
            throw Bodies.bad(type, offset, problem);
        }
        return new BlobRecord(type, body);
    }

    @Override
    public ByteBuffer[] payload() {
        return data.hasRemaining() ? new ByteBuffer[] {data()} : Bodies.NO_PAYLOAD;
    }
}
