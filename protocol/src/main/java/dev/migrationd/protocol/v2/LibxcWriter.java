package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.ByteSink;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Writes a libxc v2 stream to a {@link ByteSink}: the image header, the domain header, then records.
 * Headers and fixed record fields go into fresh buffers; pages and other data go to the sink as
 * read-only views (never copied). Misuse (records before the headers, v3-only records in a v2 image,
 * anything after END) throws IllegalStateException.
 *
 * <p>Not thread-safe: one thread (the migration's sender) owns a writer.
 */
public final class LibxcWriter {
    private enum State { IMAGE_HEADER, DOMAIN_HEADER, RECORDS, DONE }

    private final ByteSink sink;
    private State state = State.IMAGE_HEADER;
    private int version;
    private long written;

    public LibxcWriter(ByteSink sink) {
        this.sink = sink;
    }

    public void writeImageHeader(ImageHeader header) throws IOException {
        expect(State.IMAGE_HEADER, "image header");
        version = header.version();
        put(header.encode());
        state = State.DOMAIN_HEADER;
    }

    public void writeDomainHeader(DomainHeader header) throws IOException {
        expect(State.DOMAIN_HEADER, "domain header");
        put(header.encode());
        state = State.RECORDS;
    }

    /** Writes one record; END ends the stream. */
    public void write(LibxcRecord record) throws IOException {
        expect(State.RECORDS, record.type().name());
        if (record.type().isV3Only() && version < V2Format.IHDR_VERSION_3) {
            throw new IllegalStateException(record.type() + " needs an image of version 3");
        }
        written += Framing.write(sink, record.type().code(), record.fixedLength(), record::writeFixed,
                record.payload());
        if (record.type() == RecordType.END) {
            state = State.DONE;
        }
    }

    /** Writes any libxc item in order. */
    public void write(LibxcItem item) throws IOException {
        switch (item) {
            case ImageHeader h -> writeImageHeader(h);
            case DomainHeader h -> writeDomainHeader(h);
            case LibxcRecord r -> write(r);
        }
    }

    /** Whether END has been written. */
    public boolean isDone() {
        return state == State.DONE;
    }

    /** Octets handed to the sink so far. */
    public long bytesWritten() {
        return written;
    }

    private void expect(State s, String what) {
        if (state != s) {
            throw new IllegalStateException("cannot write " + what + " in state " + state);
        }
    }

    private void put(ByteBuffer b) throws IOException {
        written += b.remaining();
        sink.write(b);
    }
}
