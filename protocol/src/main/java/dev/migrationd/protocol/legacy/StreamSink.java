package dev.migrationd.protocol.legacy;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a {@link LegacyStreamWriter} puts its bytes.
 *
 * <p><b>Ownership contract.</b> Each call hands the sink the bytes between the buffer's position and limit.
 * The writer never modifies, reuses or rewrites a buffer after handing it over: header and PFN-array buffers are
 * allocated per call, and page data is passed as a view of the caller's memory (guest memory or the caller's
 * buffer), so a sink may hold on to the buffer and write it later (asynchronously). The sink may move the
 * buffer's position. Page views keep pointing at live guest memory: if the guest changes a page before the sink
 * has written it, the newer content goes out, which live migration tolerates (the page is dirty and sent again).
 *
 * <p>A sink is called only from the thread that drives the writer.
 */
@FunctionalInterface
public interface StreamSink {
    void write(ByteBuffer bytes) throws IOException;
}
