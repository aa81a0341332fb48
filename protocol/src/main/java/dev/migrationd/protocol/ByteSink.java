package dev.migrationd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a stream writer (legacy or v2) puts its bytes.
 *
 * <p><b>Ownership.</b> Each call hands the sink one buffer (the bytes between its position and limit) and its
 * ownership: the writer never reads, changes, reuses or rewrites a buffer after passing it, so a sink may keep it
 * and write it later (the daemon's Netty sink writes asynchronously). The sink may move the buffer's position.
 * Headers and fixed fields are freshly allocated per call; page data and other payloads are views of the caller's
 * memory (guest memory or the caller's buffer), never copies: the caller keeps that memory valid until the sink is
 * done with it. A view of live guest memory carries whatever the page holds when the sink writes it, which live
 * migration tolerates (a page changed meanwhile is dirty and sent again).
 *
 * <p>A sink is called only from the thread that drives the writer.
 */
@FunctionalInterface
public interface ByteSink {
    void write(ByteBuffer bytes) throws IOException;
}
