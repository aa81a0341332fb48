package dev.migrationd.protocol.v2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a writer puts the stream. Each call hands over one buffer (its remaining octets) and its
 * ownership: the writer never reads, changes or reuses a buffer after passing it, so a sink may
 * keep it and write it later (the daemon's Netty sink writes asynchronously). Page buffers are
 * read-only views of guest memory or of the caller's data; the caller keeps that memory unchanged
 * until the sink is done with it.
 */
@FunctionalInterface
public interface ByteSink {
    void write(ByteBuffer buffer) throws IOException;
}
