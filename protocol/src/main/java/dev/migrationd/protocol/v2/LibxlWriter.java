package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.ByteSink;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Writes a libxl v2 stream: header, LIBXC_CONTEXT followed by the libxc stream (written through
 * {@link #libxc()}), emulator records, END. Checkpointed streams: after the libxc CHECKPOINT record
 * the libxl records of that checkpoint and CHECKPOINT_END, then libxc records again.
 *
 * <p>Not thread-safe: one thread owns a writer.
 */
public final class LibxlWriter {
    private final ByteSink sink;
    private final LibxcWriter libxc;
    private boolean headerWritten;
    private boolean done;
    private long written;

    public LibxlWriter(ByteSink sink) {
        this.sink = sink;
        this.libxc = new LibxcWriter(b -> {
            written += b.remaining();
            sink.write(b);
        });
    }

    public void writeHeader(LibxlHeader header) throws IOException {
        if (headerWritten) {
            throw new IllegalStateException("libxl header already written");
        }
        headerWritten = true;
        ByteBuffer b = header.encode();
        written += b.remaining();
        sink.write(b);
    }

    public void write(LibxlRecord record) throws IOException {
        if (!headerWritten || done) {
            throw new IllegalStateException("cannot write " + record.type() + (done ? " after END" : " before the header"));
        }
        written += Framing.write(sink, record.type().code(), record.fixedLength(), record::writeFixed,
                record.payload());
        done = record.type() == LibxlRecordType.END;
    }

    /** Writes any item: libxl items here, libxc items through {@link #libxc()}. */
    public void write(V2Item item) throws IOException {
        switch (item) {
            case LibxlHeader h -> writeHeader(h);
            case LibxlRecord r -> write(r);
            case LibxcItem i -> libxc.write(i);
        }
    }

    /** The writer of the embedded libxc stream (same sink). */
    public LibxcWriter libxc() {
        return libxc;
    }

    public long bytesWritten() {
        return written;
    }
}
