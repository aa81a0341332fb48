package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.RecordException;
import java.nio.ByteBuffer;

/**
 * SHARED_INFO (0x07): the PV guest's shared-info page, exactly 4096 octets, carried as a view (its layout:
 * {@link dev.migrationd.protocol.x86.SharedInfo}).
 * <pre>
 *  0                                 4096
 * +---------------------------------+
 * | shared_info page                |
 * +---------------------------------+
 * </pre>
 */
public record SharedInfoRecord(ByteBuffer page) implements LibxcRecord {
    public SharedInfoRecord {
        if (page.remaining() != V2Format.SHARED_INFO_SIZE) {
            throw new IllegalArgumentException("shared info must be 4096 bytes, not " + page.remaining());
        }
        page = Bodies.view(page);
    }

    /** A fresh read-only view of the page. */
    @Override
    public ByteBuffer page() {
        return Bodies.view(page);
    }

    @Override
    public RecordType type() {
        return RecordType.SHARED_INFO;
    }

    static SharedInfoRecord read(ByteBuffer body, long offset) throws RecordException {
        if (body.remaining() != V2Format.SHARED_INFO_SIZE) {
            throw Bodies.bad(RecordType.SHARED_INFO, offset, "length " + body.remaining() + " is not 4096");
        }
        return new SharedInfoRecord(body);
    }

    @Override
    public ByteBuffer[] payload() {
        return new ByteBuffer[] {page()};
    }
}
