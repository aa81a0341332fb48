package dev.migrationd.daemon.engine.stream;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.StreamException;
import java.nio.ByteBuffer;

/**
 * The save stream as the incoming migration's loop sees it, whoever applies it: the engine itself, page by page
 * into a domain built by {@code createForRestore} ({@link DestinationStream}), or the host's toolstack, which
 * builds the guest from the stream ({@link ToolstackDestinationStream}). Confined to the feeding thread.
 */
public sealed interface IncomingStream permits DestinationStream, ToolstackDestinationStream {

    /** Feeds stream bytes; consumes up to the end of the stream and throws the first failure. */
    void feed(ByteBuffer data) throws StreamException, HypervisorException;

    /** Whether the stream's last item arrived. */
    boolean complete();

    /** Stream bytes consumed. */
    long offset();

    /** Data pages in the stream so far. */
    long pages();

    /**
     * The stream is complete: the domain is finished and left PAUSED (a failure here comes before the
     * hand-over's commit point, never at the unpause after Go).
     */
    void completeRestore() throws StreamException, HypervisorException;
}
