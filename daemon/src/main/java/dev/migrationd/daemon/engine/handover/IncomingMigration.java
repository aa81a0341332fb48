package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.fault.FailpointNames;
import dev.migrationd.daemon.engine.fault.Failpoints;
import dev.migrationd.daemon.engine.run.IncomingLimits;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.stream.DestinationStream;
import dev.migrationd.daemon.engine.stream.IncomingStream;
import dev.migrationd.daemon.engine.stream.ToolstackDestinationStream;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.StreamRestore;
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
    /** The toolstack's build of the domain, when it builds it from the stream (the domain is null until it ends). */
    private StreamRestore restore;
    private boolean committed;
    private boolean goReceived;
    /** COMMITTED failed to append and the journal could not be repaired: the record may be on disk. */
    private boolean commitUncertain;
    private boolean sourceGone;
    private long bytes;
    /** The codec picked for the stream (migration thread; NONE: plain frames). */
    private StreamCodec compression = StreamCodec.NONE;
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
    /** The ACCEPTED journal record's field naming the domain as built (the offered name or {@code NAME--incoming}). */
    public static final String BUILD_NAME_FIELD = "build_name";

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
                Duration.ofNanos(setupNanos), compression, wireBytes()), engine);
    }

    /** Stream bytes as they arrived on the wire (compressed, where they were). */
    private long wireBytes() {
        long w = connection.streamWireBytes();
        return w < 0 ? bytes : w;
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
                "peer", info.peer(), "guest", info.guestType().name(), "uuid", offer.shape().uuid().toString(),
                BUILD_NAME_FIELD, buildName));
        IncomingStream stream;
        Runnable onStopAndCopy = () -> pausedAtSourceNanos = ticker.nanoTime();
        if (offer.toolstackConfig().isPresent() && cfg.hypervisor().capabilities().contains(Capability.STREAM_RESTORE)) {
            // the toolstack builds the guest from the stream (Xen PVH: libxl), as its own migrations do
            restore = cfg.hypervisor().restoreFromStream(buildName, offer.shape().uuid(), offer.toolstackConfig().get());
            stream = ToolstackDestinationStream.of(offer.options().format(), restore, offer.shape(), onStopAndCopy);
        } else {
            domain = cfg.hypervisor().createForRestore(offer.shape().withName(buildName));
            stream = DestinationStream.of(offer.options().format(), domain, offer.shape(), onStopAndCopy);
        }
        setupNanos = ticker.nanoTime() - startNanos;
        // only a domain this side populates itself can keep the promise; a toolstack's restore (libxc) never
        // writes an allocate-only page, and Xen hands out pages with whatever their last owner left there
        boolean zeroed = restore == null && cfg.hypervisor().capabilities().contains(Capability.ZEROED_ALLOCATION);
        // the pick arms the connection for compressed frames before the source can hear Accept and send one
        compression = connection.acceptCompression(offer.compression());
        connection.send(new HandoverMessage.Accept(info.id(), compression, zeroed));
        advance(new MigrationPhase.Receiving());

        RateFloor floor = new RateFloor(cfg.incomingLimits(), ticker.nanoTime());
        while (true) {
            PeerConnection.Inbound in = receiveStreamItem(cfg, floor);
            if (in instanceof PeerConnection.StreamData d) {
                try {
                    if (stream.complete()) {
                        throw MigrationAbort.failed("protocol violation: stream data after the end of the save stream");
                    }
                    var data = d.data();
                    bytes += data.remaining();
                    floor.add(data.remaining());
                    long applying = ticker.nanoTime();
                    stream.feed(data);
                    // time spent here applying (a toolstack reading the stream at its own pace) is not the source's
                    floor.ownTime(ticker.nanoTime() - applying);
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
        if (stream instanceof ToolstackDestinationStream t) {
            domain = t.domain();
        }
        LOG.info("event=stream_applied migration={} domain={} bytes={} pages={} built_by={}", info.id(), info.domain(), bytes,
                stream.pages(), restore == null ? "engine" : "toolstack");

        advance(new MigrationPhase.AwaitingGo());
        checkpoint();
        Failpoints.hit(FailpointNames.DEST_BEFORE_RECEIVED);
        connection.send(new HandoverMessage.Received(info.id()));
        PeerConnection.Inbound in = receiveItem(boundedByDeadline(cfg.handshakeTimeout()), "Go");
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
        goReceived = true;
        goNanos = ticker.nanoTime();
        Failpoints.hit(FailpointNames.DEST_AFTER_GO_RECEIVED);
        try {
            passCommitPoint(() -> engine.journal(Journal.Role.DESTINATION, info.id(), Journal.State.COMMITTED, Map.of()));
        } catch (IOException e) {
            // whether the record reached the disk is unknown: only a repair makes it certainly absent, and
            // only then may the copy be destroyed
            commitUncertain = !engine.repairJournal();
            throw MigrationAbort.failed("COMMITTED could not be made durable: " + e.getMessage());
        }
        committed = true;
        decided.complete(HandoverMessage.Resolution.COMMITTED);
        takeFinalName();
        if (!Retry.untilDone(engine, info, Attention.UNPAUSE_FAILED, "unpause", () -> {
            Failpoints.hit(FailpointNames.DEST_BEFORE_UNPAUSE);
            domain.resume();
        })) {
            return; // engine closing: the journal says COMMITTED, the next start unpauses
        }
        resumedNanos = ticker.nanoTime();
        try {
            Failpoints.hit(FailpointNames.DEST_BEFORE_RUNNING);
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

    /**
     * The next item of the stream, within every bound: the idle timeout, the migration's total deadline
     * ({@code incoming-deadline}) and the minimum rate ({@code incoming-min-rate}, checked at the end of each
     * window even when nothing arrives: a peer that dribbles bytes slower than a whole frame never delivers
     * an item at all).
     */
    private PeerConnection.Inbound receiveStreamItem(HandoverSettings cfg, RateFloor floor)
            throws IOException, MigrationAbort, InterruptedException {
        long idleEnd = ticker.nanoTime() + cfg.idleTimeout().toNanos();
        while (true) {
            long now = ticker.nanoTime();
            checkDeadline(now);
            String slow = floor.check(now);
            if (slow != null) {
                throw MigrationAbort.failed(slow);
            }
            if (now >= idleEnd) {
                throw MigrationAbort.failed("no stream data from " + info.peer() + " within " + cfg.idleTimeout().toMillis() + " ms");
            }
            long wait = Math.min(idleEnd, Math.min(floor.windowEnd(), deadlineNanos())) - now;
            try {
                return connection.receive(Duration.ofNanos(Math.max(1, wait)));
            } catch (TimeoutException e) {
                // a bound is due: checked at the top
            } catch (IOException e) {
                checkpoint(); // closed by a local cancel
                sourceGone = true;
                throw MigrationAbort.failed("connection to the source lost before Go: " + e.getMessage());
            }
        }
    }

    private long deadlineNanos() {
        return startNanos + engine.settings().incomingLimits().deadline().toNanos();
    }

    private void checkDeadline(long now) throws MigrationAbort {
        if (now >= deadlineNanos()) {
            throw MigrationAbort.failed("the incoming migration ran past its deadline of "
                    + engine.settings().incomingLimits().deadline().toSeconds() + " s (incoming-deadline)");
        }
    }

    /** {@code timeout}, or less if the migration's deadline comes first. */
    private Duration boundedByDeadline(Duration timeout) throws MigrationAbort {
        long now = ticker.nanoTime();
        checkDeadline(now);
        return Duration.ofNanos(Math.min(timeout.toNanos(), deadlineNanos() - now));
    }

    /**
     * The minimum rate of the stream, measured over consecutive windows: each window must bring at least
     * {@link IncomingLimits#minBytesPerWindow()} bytes. Owned by the migration thread.
     */
    static final class RateFloor {
        private final IncomingLimits limits;
        private long windowStart;
        private long windowBytes;

        RateFloor(IncomingLimits limits, long now) {
            this.limits = limits;
            this.windowStart = now;
        }

        void add(long n) {
            windowBytes += n;
        }

        /**
         * {@code nanos} this side spent applying what arrived: the window is moved on by as much, so that the
         * minimum rate measures what the source delivers, not how fast this side (or its toolstack) takes it.
         */
        void ownTime(long nanos) {
            windowStart += Math.max(0, nanos);
        }

        long windowEnd() {
            return windowStart + limits.rateWindow().toNanos();
        }

        /** At or after a window's end: null if it brought enough (a new window starts), else why not. */
        String check(long now) {
            if (now < windowEnd()) {
                return null;
            }
            long need = limits.minBytesPerWindow();
            if (windowBytes < need) {
                return "the source sent " + windowBytes + " bytes in " + limits.rateWindow().toMillis()
                        + " ms, below the minimum rate of " + limits.minBytesPerSecond() + " bytes/s (incoming-min-rate)";
            }
            windowStart = now;
            windowBytes = 0;
            return null;
        }
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

    /**
     * Exactly once. Committed: the guest runs here (or is to, at the next start). Not committed: destroy what
     * was built, tell the source, journal the end once the copy is gone. Undecidable: leave the domain.
     */
    private MigrationPhase cleanup(MigrationResult.Outcome outcome, String reason) {
        if (committed) {
            connection.close();
            if (resumedNanos == 0) {
                // journal says COMMITTED: the next start unpauses it
                return new MigrationPhase.Failed("committed, but the engine stopped before the guest was unpaused"
                        + (reason.isEmpty() ? "" : ": " + reason) + "; the next start unpauses it");
            }
            journalQuietly(Journal.State.DONE, Journal.Entry.withDowntime(Map.of(), downtime().total()));
            return new MigrationPhase.Done();
        }
        if (commitUncertain) {
            connection.close();
            engine.attention(info, Attention.UNDECIDED, true);
            LOG.error("event=operator_needed migration={} domain={} reason={} action=\"COMMITTED may or may not be on disk and the journal cannot be repaired: the domain is left paused, the source is answered PENDING; fix the state directory and restart migrationd, which decides from the journal\"",
                    info.id(), info.domain(), Attention.UNDECIDED.tag());
            return new MigrationPhase.Failed(reason + "; the domain is left paused until migrationd restarts");
        }
        if (!goReceived) {
            // it can no longer commit, whatever becomes of the copy
            decided.complete(HandoverMessage.Resolution.NOT_COMMITTED);
        }
        if (restore != null && domain == null) {
            // the toolstack's build stops at the closed stream and removes what it built
            try {
                restore.abort(reason);
            } catch (HypervisorException | RuntimeException e) {
                LOG.warn("event=toolstack_abort_failed migration={} domain={} error=\"{}\"", info.id(), buildName, e.getMessage());
            }
        }
        // destroy first, then tell the source (Failed, or the close after its Abort): when the source
        // reports the end, nothing is left here
        boolean gone = domain == null || Retry.attempts(info, "destroy_partial", Retry.QUICK_ATTEMPTS, this::destroyIfPresent);
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
        if (!gone) {
            gone = Retry.untilDone(engine, info, Attention.DESTROY_FAILED, "destroy_partial", this::destroyIfPresent);
        }
        if (!gone) {
            // the journal still says ACCEPTED: the next start destroys it
            return new MigrationPhase.Failed(reason + "; the partial domain could not be destroyed before shutdown");
        }
        if (journalQuietly(outcome == MigrationResult.Outcome.CANCELLED ? Journal.State.CANCELLED : Journal.State.FAILED, reason)) {
            decided.complete(HandoverMessage.Resolution.NOT_COMMITTED);
        }
        return outcome == MigrationResult.Outcome.CANCELLED ? new MigrationPhase.Cancelled() : new MigrationPhase.Failed(reason);
    }

    /**
     * Destroys the copy built here if it still exists, looked up under the name it was built under (never the
     * offered name: on a migration within one host that is the source's copy, with the same UUID).
     */
    private void destroyIfPresent() throws Exception {
        var d = engine.settings().hypervisor().findDomain(buildName);
        if (d.isPresent() && d.get().info().uuid().equals(offer.shape().uuid())) {
            domain.destroy();
            LOG.info("event=partial_domain_destroyed migration={} domain={}", info.id(), buildName);
        }
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

    /** Journals a terminal state; true when it is durable. */
    private boolean journalQuietly(Journal.State state, String reason) {
        return journalQuietly(state, reason.isEmpty() ? Map.of() : Map.of("reason", reason));
    }

    /** Journals a terminal state with these fields; true when it is durable. */
    private boolean journalQuietly(Journal.State state, Map<String, String> fields) {
        try {
            engine.journal(Journal.Role.DESTINATION, info.id(), state, fields);
            return true;
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} state={} error=\"{}\"", info.id(), state, e.getMessage());
            return false;
        }
    }
}
