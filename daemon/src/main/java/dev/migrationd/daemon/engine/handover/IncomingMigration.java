package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.stream.DestinationStream;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.StreamException;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of one migration, on the virtual thread that read its Offer. It owns the new
 * domain (built paused by {@code createForRestore}) and the connection.
 *
 * <p>Order: journal ACCEPTED; create the paused domain; Accept; apply the stream as it arrives
 * (validated by the reader against the offer's p2m size); StreamEnd (byte count checked); Received;
 * Go → journal COMMITTED, unpause, Running, journal DONE. Anything else before Go — a lost
 * connection, an Abort, a corrupt stream, a timeout, a local cancel — destroys the new domain and
 * journals FAILED, so the source's copy stays the only one.
 *
 * <p>{@link #decided()} completes once this side knows whether it committed; the engine's answer to
 * an in-doubt Query waits for it, so it can never contradict a Go still in the connection's queue.
 */
public final class IncomingMigration extends MigrationRun {

    private static final Logger LOG = LoggerFactory.getLogger(IncomingMigration.class);

    private final HandoverContext engine;
    private final PeerConnection connection;
    private final HandoverMessage.Offer offer;
    /** The name the domain is built under (see the constructor). */
    private final String buildName;
    private final Ticker ticker;
    private final CompletableFuture<HandoverMessage.Resolution> decided = new CompletableFuture<>();

    // owned by the migration thread
    private Domain domain;
    private boolean committed;
    private boolean sourceGone;
    private long bytes;
    private long startNanos;
    /** Start to the domain built (0 until then). */
    private long setupNanos;
    private long pausedAtSourceNanos;
    private long streamDoneNanos;
    private long goNanos;
    private long resumedNanos;

    public IncomingMigration(HandoverContext engine, MigrationInfo info, PeerConnection connection, HandoverMessage.Offer offer) {
        this(engine, info, connection, offer, offer.shape().name());
    }

    /**
     * @param buildName the name the domain is built under: the offered name, or (when the guest is still on
     *                  this host under it: a migration between two daemons of one host) a temporary name that
     *                  becomes the offered one at the commit point
     */
    public IncomingMigration(HandoverContext engine, MigrationInfo info, PeerConnection connection, HandoverMessage.Offer offer,
                             String buildName) {
        super(info, engine.observers());
        this.engine = engine;
        this.connection = connection;
        this.offer = offer;
        this.buildName = buildName;
        this.ticker = engine.settings().ticker();
        onCancel(connection::close);
    }

    /** The temporary name's suffix, as {@code xl migrate} names an incoming domain. */
    public static final String INCOMING_SUFFIX = "--incoming";

    /** Guest memory this migration reserved against the admission limit. */
    public long offerBytes() {
        return offer.shape().memoryBytes();
    }

    public CompletableFuture<HandoverMessage.Resolution> decided() {
        return decided;
    }

    @Override
    public void run() {
        startNanos = ticker.nanoTime();
        Ending ending = attempt(this::receive, MigrationAbort::describe);
        MigrationResult.Outcome outcome = ending.outcome();
        MigrationPhase terminal = cleanup(outcome, ending.reason());
        long end = ticker.nanoTime();
        MigrationResult.Downtime downtime = committed && resumedNanos != 0 ? downtime() : MigrationResult.Downtime.NONE;
        finish(terminal, new MigrationResult(terminal instanceof MigrationPhase.Done ? MigrationResult.Outcome.SUCCEEDED
                : outcome == MigrationResult.Outcome.SUCCEEDED ? MigrationResult.Outcome.FAILED : outcome,
                terminal instanceof MigrationPhase.Failed f ? f.reason() : ending.reason(),
                Duration.ofNanos(end - startNanos), downtime, 0, bytes,
                downtime == MigrationResult.Downtime.NONE ? Optional.empty() : Optional.of(downtime.total()),
                Duration.ofNanos(setupNanos)), engine);
    }

    /** This side's downtime parts; valid once the guest was unpaused ({@link #resumedNanos} set). */
    private MigrationResult.Downtime downtime() {
        long paused = pausedAtSourceNanos == 0 ? streamDoneNanos : pausedAtSourceNanos;
        return new MigrationResult.Downtime(Duration.ofNanos(streamDoneNanos - paused), Duration.ZERO,
                Duration.ofNanos(goNanos - streamDoneNanos), Duration.ofNanos(resumedNanos - goNanos));
    }

    private void receive() throws IOException, HypervisorException, StreamException, MigrationAbort, InterruptedException {
        HandoverSettings cfg = engine.settings();
        engine.journal(Journal.Role.DESTINATION, info.id(), Journal.State.ACCEPTED, Map.of("domain", info.domain(),
                "peer", info.peer(), "guest", info.guestType().name(), "uuid", offer.shape().uuid().toString()));
        domain = cfg.hypervisor().createForRestore(offer.shape().withName(buildName));
        setupNanos = ticker.nanoTime() - startNanos;
        connection.send(new HandoverMessage.Accept(info.id()));
        advance(new MigrationPhase.Receiving());

        DestinationStream stream = DestinationStream.of(offer.options().format(), domain, offer.shape(),
                () -> pausedAtSourceNanos = ticker.nanoTime());
        while (true) {
            PeerConnection.Inbound in = receiveItem(cfg.idleTimeout(), "stream data");
            if (in instanceof PeerConnection.StreamData d) {
                try {
                    if (stream.complete()) {
                        throw MigrationAbort.failed("protocol violation: stream data after the end of the save stream");
                    }
                    var data = d.data();
                    bytes += data.remaining();
                    stream.feed(data);
                    if (data.hasRemaining()) {
                        throw MigrationAbort.failed("protocol violation: " + data.remaining()
                                + " bytes after the end of the save stream");
                    }
                } finally {
                    d.release();
                }
                checkpoint();
                continue;
            }
            HandoverMessage m = ((PeerConnection.Message) in).message();
            switch (m) {
                case HandoverMessage.StreamEnd e -> {
                    if (!stream.complete()) {
                        throw MigrationAbort.failed("stream ended after " + stream.offset()
                                + " bytes, before its tail was complete");
                    }
                    if (e.streamBytes() != stream.offset()) {
                        throw MigrationAbort.failed("stream length mismatch: source sent " + e.streamBytes()
                                + " bytes, " + stream.offset() + " arrived");
                    }
                }
                case HandoverMessage.Flush f -> {
                    // every stream byte before it is applied (items are handled in order)
                    connection.send(new HandoverMessage.Flushed(info.id()));
                    continue;
                }
                case HandoverMessage.Abort a -> throw sourceAborted(a);
                default -> throw MigrationAbort.failed("protocol violation: " + m.getClass().getSimpleName()
                        + " during the stream");
            }
            break;
        }
        streamDoneNanos = ticker.nanoTime();
        stream.completeRestore();
        LOG.info("event=stream_applied migration={} domain={} bytes={} pages={}", info.id(), info.domain(), bytes, stream.pages());

        advance(new MigrationPhase.AwaitingGo());
        checkpoint();
        connection.send(new HandoverMessage.Received(info.id()));
        PeerConnection.Inbound in = receiveItem(cfg.handshakeTimeout(), "Go");
        if (!(in instanceof PeerConnection.Message msg)) {
            ((PeerConnection.StreamData) in).release();
            throw MigrationAbort.failed("protocol violation: stream data while waiting for Go");
        }
        switch (msg.message()) {
            case HandoverMessage.Go g -> {
            }
            case HandoverMessage.Abort a -> throw sourceAborted(a);
            case HandoverMessage other -> throw MigrationAbort.failed("protocol violation: expected Go, got "
                    + other.getClass().getSimpleName());
        }
        goNanos = ticker.nanoTime();
        passCommitPoint(() -> engine.journal(Journal.Role.DESTINATION, info.id(), Journal.State.COMMITTED, Map.of()));
        committed = true;
        decided.complete(HandoverMessage.Resolution.COMMITTED);
        takeFinalName();
        domain.resume();
        resumedNanos = ticker.nanoTime();
        try {
            // the source reports the downtime seen here next to its own
            connection.send(new HandoverMessage.Running(info.id(), Optional.of(downtime().total())));
            connection.drain();
        } catch (IOException e) {
            // the source resolves it by asking (in doubt); the guest runs here either way
            LOG.warn("event=running_not_sent migration={} error=\"{}\"", info.id(), e.getMessage());
        }
    }

    /**
     * Past the commit point, a domain built under a temporary name takes the offered one (the source renamed
     * its copy away before Go). The guest runs either way: a failed rename is logged and the domain keeps
     * the temporary name, which {@code xl rename} can fix.
     */
    private void takeFinalName() {
        if (buildName.equals(info.domain())) {
            return;
        }
        try {
            domain.rename(info.domain());
            LOG.info("event=incoming_renamed migration={} from={} to={}", info.id(), buildName, info.domain());
        } catch (HypervisorException e) {
            LOG.error("event=incoming_rename_failed migration={} domain={} name={} error=\"{}\"", info.id(), buildName,
                    info.domain(), e.getMessage());
        }
    }

    private MigrationAbort sourceAborted(HandoverMessage.Abort a) {
        sourceGone = true;
        return new MigrationAbort("cancelled".equals(a.reason()) ? MigrationResult.Outcome.CANCELLED
                : MigrationResult.Outcome.FAILED, "source aborted: " + a.reason());
    }

    private PeerConnection.Inbound receiveItem(Duration timeout, String waitingFor)
            throws IOException, MigrationAbort, InterruptedException {
        try {
            return connection.receive(timeout);
        } catch (TimeoutException e) {
            throw MigrationAbort.failed("no " + waitingFor + " from " + info.peer() + " within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            checkpoint(); // closed by a local cancel
            sourceGone = true;
            throw MigrationAbort.failed("connection to the source lost before Go: " + e.getMessage());
        }
    }

    /** Exactly once. Before Go: destroy what was built, then tell the source. After: the guest runs here. */
    private MigrationPhase cleanup(MigrationResult.Outcome outcome, String reason) {
        if (committed) {
            connection.close();
            if (resumedNanos != 0) {
                journalQuietly(Journal.State.DONE, "");
            } else {
                // journal says COMMITTED: recovery at the next start unpauses it
                return new MigrationPhase.Failed("committed, but unpausing failed: " + reason);
            }
            return new MigrationPhase.Done();
        }
        // destroy first, then tell the source (Failed, or the close after its Abort): when the source
        // reports the end, nothing is left here
        if (domain != null) {
            try {
                domain.destroy();
                LOG.info("event=partial_domain_destroyed migration={} domain={}", info.id(), info.domain());
            } catch (HypervisorException | RuntimeException e) {
                LOG.error("event=cleanup_step_failed migration={} step=destroy_partial domain={} error=\"{}\"",
                        info.id(), info.domain(), e.getMessage());
            }
        }
        if (!sourceGone) {
            try {
                connection.send(new HandoverMessage.Failed(info.id(), reason));
                connection.drain();
                lingerUntilSourceCloses();
            } catch (IOException | RuntimeException e) {
                // the source sees the connection close instead
            }
        }
        connection.close();
        journalQuietly(outcome == MigrationResult.Outcome.CANCELLED ? Journal.State.CANCELLED : Journal.State.FAILED, reason);
        decided.complete(HandoverMessage.Resolution.NOT_COMMITTED);
        return outcome == MigrationResult.Outcome.CANCELLED ? new MigrationPhase.Cancelled() : new MigrationPhase.Failed(reason);
    }

    /**
     * After Failed: reads and discards what the source still sends until it closes the connection (it does
     * as soon as it reads Failed), at most {@link #FAILED_LINGER}. Closing with unread bytes in the socket
     * would make the kernel answer with a reset, which can destroy the Failed message before the source reads
     * it, and the source would report "connection reset" instead of the real cause.
     */
    private void lingerUntilSourceCloses() {
        long deadline = ticker.nanoTime() + FAILED_LINGER.toNanos();
        try {
            while (true) {
                long left = deadline - ticker.nanoTime();
                if (left <= 0) {
                    return;
                }
                if (connection.receive(Duration.ofNanos(left)) instanceof PeerConnection.StreamData d) {
                    d.release();
                }
            }
        } catch (IOException | TimeoutException | RuntimeException e) {
            // closed by the source (the normal end), or the linger ran out
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** How long a failed destination waits for the source to read its Failed message and close. */
    static final Duration FAILED_LINGER = Duration.ofSeconds(2);

    private void journalQuietly(Journal.State state, String reason) {
        try {
            engine.journal(Journal.Role.DESTINATION, info.id(), state, reason.isEmpty() ? Map.of() : Map.of("reason", reason));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} state={} error=\"{}\"", info.id(), state, e.getMessage());
        }
    }
}
