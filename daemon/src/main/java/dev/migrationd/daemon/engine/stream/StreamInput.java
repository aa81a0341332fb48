package dev.migrationd.daemon.engine.stream;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.StreamException;
import java.nio.ByteBuffer;

/**
 * The save-stream format on the receiving side: applies the stream, as it arrives, to a domain being
 * restored (paused), validating it against the offer's (or the save file's) shape. The generic loops
 * ({@link dev.migrationd.daemon.engine.handover.IncomingMigration}, {@link dev.migrationd.daemon.engine.file.SaveRestore}) know no format. Confined to one thread.
 */
public sealed interface StreamInput permits StreamApplier, V2Applier {

    /**
     * @param onStopAndCopy called when the stream shows that the source paused the guest (legacy:
     *                      TSC_INFO before the final round; v2: X86_TSC_INFO after it)
     */
    static StreamInput of(MigrationOptions.StreamFormat format, Domain domain, DomainShape shape, Runnable onStopAndCopy) {
        return switch (format) {
            case LEGACY -> new StreamApplier(domain, shape, onStopAndCopy);
            case V2 -> new V2Applier(domain, shape, onStopAndCopy);
        };
    }

    /** Feeds stream bytes; consumes up to the end of the stream and throws the first failure. */
    void feed(ByteBuffer data) throws StreamException, HypervisorException;

    /** End of input (files): accepts only a complete stream. */
    void finish() throws StreamException, HypervisorException;

    /** Whether the stream's last item arrived. */
    boolean complete();

    /** Stream bytes consumed. */
    long offset();

    /** Data pages written. */
    long pages();

    /** Applies the collected state once the stream is complete; fails if verify mode found differences. */
    void completeRestore() throws StreamException, HypervisorException;
}
