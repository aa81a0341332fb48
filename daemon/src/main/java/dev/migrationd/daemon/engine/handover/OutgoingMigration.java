package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.fault.FailpointNames;
import dev.migrationd.daemon.engine.fault.Failpoints;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.precopy.PageSender;
import dev.migrationd.daemon.engine.precopy.Policies;
import dev.migrationd.daemon.engine.precopy.PrecopyPolicy;
import dev.migrationd.daemon.engine.run.Attention;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationRun;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.stream.SourceStream;
import dev.migrationd.daemon.engine.stream.StreamOut;
import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.Throttle;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source side of one migration, on its own virtual thread, which owns the domain (exclusively:
 * the engine refuses a second migration of it), its dirty log, throttle and the peer connection.
 *
 * <p>Order: enable log-dirty (a guest this host cannot track is refused before the destination hears of it);
 * Offer → Accept; header; round 0 (all populated pages); later rounds
 * (fetch-and-clear, send) while the policy says so; journal PAUSING (when the guest runs); pause; TSC_INFO;
 * final round; [verify resend]; end of body; tail; StreamEnd → Received; journal COMMITTING; Go → Running;
 * destroy; journal DONE. Before Go every failure (or cancel) resumes the guest here if this migration paused
 * it; after Go without Running the migration is in doubt and resolved by the destination's durable answer or
 * an operator (the guest stays paused meanwhile).
 */
public final class OutgoingMigration extends MigrationRun {

    private static final Logger LOG = LoggerFactory.getLogger(OutgoingMigration.class);

    private final HandoverContext engine;
    private final Domain domain;
    private final DomainInfo domainInfo;
    /** The domain's name on the destination. */
    private final String nameThere;
    /** The name this copy was given before Go because the destination's copy is on this very host; null otherwise. */
    private String renamedAway;
    private final MigrationOptions options;
    private final Ticker ticker;

    // owned by the migration thread
    private PeerConnection connection;
    private boolean dirtyLogEnabled;
    private boolean pausedByUs;
    private boolean throttled;
    private boolean committing;
    /** A successful migration's loose end, reported with its result ("" when there is none). */
    private String leftover = "";
    private int rounds;
    /** The stream's byte counter once the stream has begun (read at the end whatever the outcome). */
    private StreamOut out;
    /** The downtime the destination measured, from its Running message. */
    private Optional<Duration> destinationDowntime = Optional.empty();
    private long startNanos;
    /**
     * The destination's Accept promised that pages it allocates without data read as zero: round 0 may send
     * zero pages as allocate-only entries. Set once from the Accept, on the migration's thread.
     */
    private boolean zeroedAllocation;
    /** Start to Accept heard (0 until then). */
    private long setupNanos;
    /** How the stream travels: the destination's pick in Accept (migration thread). */
    private StreamCodec compression = StreamCodec.NONE;
    private long pauseNanos;
    /** When a failed migration resumed the guest it had paused (0: it did not). */
    private long resumedNanos;
    private long tailSentNanos;
    private long finalRoundNanos;
    private long stateCaptureNanos;
    private long stateSendNanos;
    private long completionNanos;

    public OutgoingMigration(HandoverContext engine, MigrationInfo info, Domain domain, DomainInfo domainInfo) {
        this(engine, info, domain, domainInfo, info.domain());
    }

    /** @param nameThere the domain's name on the destination (its name here, unless the request gave another) */
    public OutgoingMigration(HandoverContext engine, MigrationInfo info, Domain domain, DomainInfo domainInfo,
                             String nameThere) {
        super(info, engine.observers());
        this.engine = engine;
        this.domain = domain;
        this.domainInfo = domainInfo;
        this.nameThere = nameThere;
        this.options = info.options();
        this.ticker = engine.settings().ticker();
    }

    @Override
    public void run() {
        startNanos = ticker.nanoTime();
        Ending ending = attempt(this::migrate, this::peerReasonOr);
        MigrationResult.Outcome outcome = ending.outcome();
        String reason = ending.reason();
        MigrationPhase terminal = cleanup(outcome, reason);
        if (terminal instanceof MigrationPhase.Failed f) {
            if (outcome == MigrationResult.Outcome.SUCCEEDED) {
                outcome = MigrationResult.Outcome.FAILED;
            }
            reason = f.reason();
        }
        if (terminal instanceof MigrationPhase.Done) {
            outcome = MigrationResult.Outcome.SUCCEEDED;
            reason = leftover;
        }
        long end = ticker.nanoTime();
        // what was handed to the connection, also when the migration stopped half-way (cancel, failure)
        long bytes = out == null ? 0 : out.bytes();
        long wire = out == null ? 0 : out.wireBytes();
        finish(terminal, new MigrationResult(outcome, reason, Duration.ofNanos(end - startNanos), downtime(), rounds, bytes,
                terminal instanceof MigrationPhase.Done ? destinationDowntime : Optional.empty(), Duration.ofNanos(setupNanos),
                compression, wire), engine);
    }

    /**
     * This side's downtime in parts. When the guest was resumed here, it was paused from {@link #pauseNanos}
     * until then: what the parts measured before the failure leave out (the wait for an answer, an in-doubt
     * query) is the completion.
     */
    private MigrationResult.Downtime downtime() {
        long completion = completionNanos;
        if (resumedNanos != 0) {
            long measured = finalRoundNanos + stateCaptureNanos + stateSendNanos;
            completion = Math.max(completion, resumedNanos - pauseNanos - measured);
        }
        return new MigrationResult.Downtime(Duration.ofNanos(finalRoundNanos), Duration.ofNanos(stateCaptureNanos),
                Duration.ofNanos(stateSendNanos), Duration.ofNanos(completion));
    }

    /**
     * {@code fields} with the downtime when this migration paused the guest and it ran again (resumed here, or
     * Running heard): the end's record carries it so that the history after a restart reports it too.
     */
    private Map<String, String> withDowntime(Map<String, String> fields) {
        boolean paused = pauseNanos != 0 && (resumedNanos != 0 || completionNanos != 0);
        return paused ? Journal.Entry.withDowntime(fields, downtime().total()) : fields;
    }

    /**
     * When sending failed because the destination gave up and closed the connection, its Failed message
     * (already queued) names the real cause; prefer it to "connection reset".
     */
    private String peerReasonOr(Exception e) {
        if (e instanceof IOException && !(e instanceof InDoubt) && connection != null && !committing) {
            try {
                PeerConnection.Inbound in = connection.receive(PEER_REASON_WAIT);
                if (in instanceof PeerConnection.Message m && m.message() instanceof HandoverMessage.Failed f) {
                    return "destination failed: " + f.reason();
                }
                if (in instanceof PeerConnection.StreamData d) {
                    d.release();
                }
            } catch (IOException | TimeoutException | RuntimeException ignored) {
                // nothing queued: the local error is the reason
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
        return MigrationAbort.describe(e);
    }

    /** How long a failed send waits for the destination's Failed message. */
    static final Duration PEER_REASON_WAIT = Duration.ofMillis(200);

    private void migrate() throws IOException, HypervisorException, MigrationAbort, InterruptedException {
        HandoverSettings cfg = engine.settings();
        engine.journal(Journal.Role.SOURCE, info.id(), Journal.State.STARTED, fields());
        domain.dirtyLog().enable();
        dirtyLogEnabled = true;
        long p2m = domainInfo.p2mSize();
        try (DirtyBitmap toSend = new DirtyBitmap(p2m); DirtyBitmap extra = new DirtyBitmap(p2m)) {
            // everything slow is done before connecting: the destination starts building the guest when it
            // accepts (libxl then waits on the stream), and gives a new connection a bounded time to make its
            // Offer; asking the toolstack for the configuration and scanning which pages exist (a hypercall per
            // 1,024 frames on Xen) take seconds on a busy dom0. Pages populated after the scan are in the dirty log.
            domain.memory().populated(toSend);
            DomainShape shape = domainInfo.shape().withName(nameThere);
            Optional<ToolstackConfig> toolstackConfig = domain.toolstackConfig();
            try {
                connection = cfg.peers().connect(info.peer());
            } catch (EngineException.UnknownPeerException e) {
                throw MigrationAbort.failed(e.getMessage());
            }
            onCancel(connection::wake);
            checkpoint();
            List<StreamCodec> offered = connection.compressionOffer(options.bandwidthCap());
            connection.send(new HandoverMessage.Offer(info.id(), cfg.localPeerName(), shape, options, toolstackConfig,
                    offered));
            switch (receiveMessage(cfg.handshakeTimeout(), "Accept")) {
                case HandoverMessage.Accept a -> {
                    setupNanos = ticker.nanoTime() - startNanos;
                    zeroedAllocation = a.zeroedAllocation();
                    if (a.compression() != StreamCodec.NONE && !offered.contains(a.compression())) {
                        throw MigrationAbort.failed("protocol violation: the destination picked compression "
                                + a.compression().label() + ", which was not offered");
                    }
                    connection.compressStream(a.compression());
                    compression = a.compression();
                    LOG.info("event=stream_compression migration={} offered={} picked={}", info.id(),
                            offered.isEmpty() ? "none" : offered.stream().map(StreamCodec::label).collect(Collectors.joining(",")),
                            compression.label());
                }
                case HandoverMessage.Reject r -> throw MigrationAbort.failed("destination rejected the offer: " + r.reason());
                case HandoverMessage.Failed f -> throw MigrationAbort.failed("destination failed before accepting: " + f.reason());
                case HandoverMessage m -> throw protocol("Accept or Reject", m);
            }
            checkpoint();

            out = StreamOut.to(connection);
            SourceStream stream = SourceStream.of(options.format(), out, domain, domainInfo);
            stream.writeHeader();
            PageSender sender = new PageSender(domain.memory(), stream, out, options.bandwidthCap(), ticker, this::checkpoint);
            precopy(sender, toSend, out);
            awaitDestinationCaughtUp();

            // stop-and-copy: the guest is paused from here on
            advance(new MigrationPhase.StopAndCopy());
            checkpoint();
            boolean wasPaused = domain.info().state() == DomainState.PAUSED;
            if (!wasPaused) {
                // before the pause, so that recovery after a crash resumes only a guest this migration paused
                engine.journal(Journal.Role.SOURCE, info.id(), Journal.State.PAUSING, Map.of());
                Failpoints.hit(FailpointNames.SOURCE_BEFORE_PAUSE);
            }
            pausedByUs = !wasPaused; // a guest the operator had paused stays paused if we fail
            pauseNanos = ticker.nanoTime();
            domain.pause();
            domain.dirtyLog().fetchAndClear(extra);
            or(toSend, extra);
            TscInfo tsc = domain.platform().tscInfo();
            stream.writeStopAndCopy(tsc);
            sender.send(toSend);
            rounds++;
            if (options.verify() == MigrationOptions.VerifyMode.ON) {
                stream.writeVerifyStart();
                domain.memory().populated(toSend);
                sender.send(toSend);
            }
            out.drain();
            long t1 = ticker.nanoTime();
            finalRoundNanos = t1 - pauseNanos;

            advance(new MigrationPhase.Tail());
            stream.writeEndOfBody();
            stream.writeTail();
            out.drain();
            tailSentNanos = ticker.nanoTime();
            stateCaptureNanos = tailSentNanos - t1;
            connection.send(new HandoverMessage.StreamEnd(info.id(), out.bytes()));
        }

        advance(new MigrationPhase.AwaitingReceived());
        awaitReply(HandoverMessage.Received.class);
        stateSendNanos = ticker.nanoTime() - tailSentNanos;

        makeRoomForTheDestinationsCopy();
        // the commit point: after COMMITTING is journaled this side never resumes its copy on its own
        Failpoints.hit(FailpointNames.SOURCE_AFTER_RECEIVED);
        try {
            passCommitPoint(() -> engine.journal(Journal.Role.SOURCE, info.id(), Journal.State.COMMITTING,
                    renamedAway == null ? Map.of() : Map.of(AWAY_NAME_FIELD, renamedAway)));
        } catch (IOException e) {
            // Go is not sent, so the destination cannot commit: a failure before the commit point. Whether the
            // record reached the disk is unknown; a repair makes it certainly absent (and if the daemon stops
            // first, recovery asks the destination, which answers NOT_COMMITTED)
            engine.repairJournal();
            throw e;
        }
        committing = true;
        long goNanos = ticker.nanoTime();
        try {
            Failpoints.hit(FailpointNames.SOURCE_BEFORE_GO);
            connection.send(new HandoverMessage.Go(info.id()));
            Failpoints.hit(FailpointNames.SOURCE_AFTER_GO);
            HandoverMessage m = receiveMessage(cfg.handshakeTimeout(), "Running");
            if (!(m instanceof HandoverMessage.Running running)) {
                throw new IOException("expected Running, got " + m.getClass().getSimpleName());
            }
            destinationDowntime = running.destinationDowntime();
            completionNanos = ticker.nanoTime() - goNanos;
            Failpoints.hit(FailpointNames.SOURCE_AFTER_RUNNING);
        } catch (IOException | MigrationAbort e) {
            // not heard: in doubt; cleanup() resolves it
            throw new InDoubt(MigrationAbort.describe(e));
        }
    }

    /**
     * Before the pause: waits until the destination has applied everything sent so far (Flush → Flushed).
     * Without it the stop-and-copy waited for the backlog in the socket buffers and the receive window
     * (measured: 15–30 ms of a static guest's downtime with the destination writing into fresh memory).
     * The guest keeps running meanwhile; what it dirties goes into the final round.
     */
    private void awaitDestinationCaughtUp() throws IOException, MigrationAbort, InterruptedException {
        long t0 = ticker.nanoTime();
        connection.send(new HandoverMessage.Flush(info.id())); // after every stream byte handed over (send's order)
        awaitReply(HandoverMessage.Flushed.class);
        LOG.info("event=destination_caught_up migration={} wait_ms={}", info.id(), (ticker.nanoTime() - t0) / 1_000_000);
    }

    /** Waits for the destination's {@code expected} answer; its Failed, or anything else, ends the migration. */
    private void awaitReply(Class<? extends HandoverMessage> expected) throws IOException, MigrationAbort, InterruptedException {
        String name = expected.getSimpleName();
        HandoverMessage m = receiveMessage(engine.settings().handshakeTimeout(), name);
        if (m instanceof HandoverMessage.Failed f) {
            throw MigrationAbort.failed("destination failed: " + f.reason());
        }
        if (!expected.isInstance(m)) {
            throw protocol(name + " or Failed", m);
        }
    }

    /** Go was sent (or may have been) without Running being heard. */
    private static final class InDoubt extends IOException {
        InDoubt(String why) {
            super(why);
        }
    }

    private void precopy(PageSender sender, DirtyBitmap toSend, StreamOut out)
            throws IOException, HypervisorException, MigrationAbort {
        PrecopyPolicy policy = Policies.of(options, domain.throttle().isPresent());
        long precopyStart = ticker.nanoTime();
        long lastRoundEnd = precopyStart;
        for (int round = 0; ; round++) {
            advance(new MigrationPhase.PreCopy(round));
            long t0 = ticker.nanoTime();
            long bytes0 = out.bytes();
            long wire0 = out.wireBytes();
            long dirtied = toSend.cardinality();
            long sent = round == 0 && zeroedAllocation ? sender.sendFirstRound(toSend) : sender.send(toSend);
            out.drain();
            long remaining = domain.dirtyLog().fetchAndClear(toSend);
            long t1 = ticker.nanoTime();
            rounds++;
            long dur = Math.max(1, t1 - t0);
            long roundBytes = out.bytes() - bytes0;
            double bandwidth = roundBytes * 1e9 / dur;
            double dirtyRate = round == 0 ? 0 : remaining * 1e9 / Math.max(1, t1 - lastRoundEnd);
            long expected = bandwidth > 0 ? (long) (remaining * (double) StreamLimits.PAGE_SIZE / bandwidth * 1e9) : Long.MAX_VALUE;
            int throttle = domain.throttle().map(Throttle::percent).orElse(0);
            RoundStats stats = new RoundStats(round, dirtied, sent, roundBytes, dur, dirtyRate, bandwidth, expected,
                    remaining, out.bytes(), t1 - precopyStart, domainInfo.p2mSize(), throttle, out.wireBytes() - wire0);
            lastRoundEnd = t1;
            round(stats);
            PrecopyPolicy.Decision d = policy.decide(stats);
            LOG.info("event=round migration={} round={} pages_sent={} bytes={} wire_bytes={} duration_ms={} bandwidth_mib_s={} remaining_dirty={} expected_downtime_ms={} throttle_pct={} decision={} reason=\"{}\"",
                    info.id(), round, sent, roundBytes, stats.wireBytes(), dur / 1_000_000, String.format("%.1f", bandwidth / (1 << 20)),
                    remaining, expected == Long.MAX_VALUE ? -1 : expected / 1_000_000, throttle, d.action(), d.reason());
            switch (d.action()) {
                case CONTINUE -> {
                }
                case THROTTLE -> {
                    Optional<Throttle> t = domain.throttle();
                    if (t.isPresent()) {
                        t.get().setPercent(Policies.nextThrottle(stats));
                        throttled = true;
                    }
                }
                case STOP_AND_COPY -> {
                    return;
                }
                case ABORT -> throw new MigrationAbort(MigrationResult.Outcome.ABORTED, d.reason());
            }
            checkpoint();
            checkDestinationStillWilling();
        }
    }

    /**
     * Between rounds: the destination speaks during the stream only to give up (Failed, then it closes).
     * Stop sending at once then, instead of streaming whole rounds into a connection nobody applies.
     */
    private void checkDestinationStillWilling() throws MigrationAbort {
        PeerConnection.Inbound in;
        try {
            in = connection.receive(Duration.ZERO);
        } catch (TimeoutException e) {
            return; // nothing queued: the usual case
        } catch (IOException e) {
            throw MigrationAbort.failed(MigrationAbort.describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MigrationAbort.failed("interrupted");
        }
        if (in instanceof PeerConnection.Message m && m.message() instanceof HandoverMessage.Failed f) {
            throw MigrationAbort.failed("destination failed: " + f.reason());
        }
        if (in instanceof PeerConnection.StreamData d) {
            d.release();
        }
        throw MigrationAbort.failed("protocol violation: " + in.getClass().getSimpleName() + " from the destination during pre-copy");
    }

    private static void or(DirtyBitmap into, DirtyBitmap from) {
        for (long i = 0; i < into.wordCount(); i++) {
            into.setWord(i, into.word(i) | from.word(i));
        }
    }

    private HandoverMessage receiveMessage(Duration timeout, String waitingFor)
            throws IOException, MigrationAbort, InterruptedException {
        try {
            PeerConnection.Inbound in = connection.receive(timeout);
            if (in instanceof PeerConnection.Message m) {
                return m.message();
            }
            ((PeerConnection.StreamData) in).release();
            throw MigrationAbort.failed("protocol violation: stream data from the destination while waiting for " + waitingFor);
        } catch (TimeoutException e) {
            throw MigrationAbort.failed("no " + waitingFor + " from " + info.peer() + " within " + timeout.toMillis() + " ms");
        } catch (IOException e) {
            checkpoint(); // a cancel closed the connection: report the cancel
            throw e;
        }
    }

    private static MigrationAbort protocol(String expected, HandoverMessage got) {
        return MigrationAbort.failed("protocol violation: expected " + expected + ", got " + got.getClass().getSimpleName());
    }

    private Map<String, String> fields() {
        return Map.of("domain", info.domain(), "peer", info.peer(), "guest", info.guestType().name(),
                "uuid", domainInfo.uuid().toString(), "key", info.idempotencyKey() == null ? "" : info.idempotencyKey());
    }

    /**
     * Runs exactly once, after {@link #migrate()} returned or threw, and never replaces the first error.
     * Returns the terminal phase.
     */
    private MigrationPhase cleanup(MigrationResult.Outcome outcome, String reason) {
        if (committing) {
            return committingCleanup(outcome == MigrationResult.Outcome.SUCCEEDED ? null : reason);
        }
        // before the commit point: the guest keeps running here
        // the destination never unpauses without Go, so the guest may run here again at once
        restoreGuest();
        if (connection != null) {
            abortAndAwaitDestination(reason);
        }
        Journal.State js = switch (outcome) {
            case CANCELLED -> Journal.State.CANCELLED;
            case ABORTED -> Journal.State.ABORTED;
            default -> Journal.State.FAILED;
        };
        journalQuietly(js, reason);
        return outcome == MigrationResult.Outcome.CANCELLED ? new MigrationPhase.Cancelled() : new MigrationPhase.Failed(reason);
    }

    /**
     * Before the commit point: sends Abort and waits (at most {@link HandoverSettings#abortWait()}) until the destination
     * has destroyed its copy and closed the connection, so that when this migration reports its end there
     * is nothing left on the destination. A destination that does not answer in time (or a connection
     * already lost) destroys its copy on its own when the connection closes.
     */
    private void abortAndAwaitDestination(String reason) {
        Duration abortWait = engine.settings().abortWait();
        connection.resetWake();
        Thread guard = Thread.ofVirtual().name("abort-guard-" + info.id()).start(() -> {
            try {
                Thread.sleep(abortWait);
                connection.close();
            } catch (InterruptedException done) {
                // the destination answered in time
            }
        });
        long t0 = ticker.nanoTime();
        boolean abortSent = false;
        boolean confirmed = false;
        try {
            connection.send(new HandoverMessage.Abort(info.id(), reason));
            connection.drain();
            abortSent = true;
            while (true) {
                PeerConnection.Inbound in = connection.receive(abortWait);
                if (in instanceof PeerConnection.StreamData d) {
                    d.release();
                }
                // Failed (the destination's own end) may come first; the close follows it
            }
        } catch (IOException e) {
            // after our Abort, the destination closing the connection says its copy is gone (unless the
            // guard closed it); a send that failed means the connection was already lost
            confirmed = abortSent && guard.isAlive();
        } catch (TimeoutException | RuntimeException e) {
            // not confirmed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            guard.interrupt();
            connection.close();
        }
        if (confirmed) {
            LOG.info("event=destination_aborted migration={} peer={} wait_ms={}", info.id(), info.peer(),
                    (ticker.nanoTime() - t0) / 1_000_000);
        } else {
            LOG.warn("event=destination_abort_unconfirmed migration={} peer={} wait_ms={}", info.id(), info.peer(),
                    (ticker.nanoTime() - t0) / 1_000_000);
        }
    }

    /**
     * A migration between two daemons of one host: the destination built its copy under a temporary name
     * ({@code NAME--incoming}, the same UUID) because this copy still holds the name; this copy takes
     * {@code NAME--migratedaway} before Go so that the destination's can take the name at the commit point,
     * as {@code xl migrate} does. {@link #restoreGuest()} gives the name back when the migration does not commit.
     */
    private void makeRoomForTheDestinationsCopy() throws HypervisorException {
        var hv = engine.settings().hypervisor();
        if (!hv.capabilities().contains(dev.migrationd.hypervisor.Capability.RENAME)) {
            return;
        }
        var incoming = hv.findDomain(nameThere + IncomingMigration.INCOMING_SUFFIX);
        if (incoming.isEmpty() || !incoming.get().info().uuid().equals(domainInfo.uuid())) {
            return;
        }
        String away = info.domain() + MIGRATED_AWAY_SUFFIX;
        domain.rename(away);
        renamedAway = away;
        LOG.info("event=source_renamed migration={} from={} to={}", info.id(), info.domain(), away);
    }

    /** The name a source copy takes before Go when the destination's copy is on the same host. */
    public static final String MIGRATED_AWAY_SUFFIX = "--migratedaway";
    /** The COMMITTING journal record's field naming this copy when it was renamed away before Go. */
    public static final String AWAY_NAME_FIELD = "away_name";

    private void restoreGuest() {
        restoreGuest(false);
    }

    /** Unthrottles, disables log-dirty, and resumes the guest if this migration paused it (or {@code always}). */
    private void restoreGuest(boolean always) {
        if (renamedAway != null) {
            try {
                domain.rename(info.domain());
                renamedAway = null;
            } catch (HypervisorException | RuntimeException e) {
                LOG.error("event=cleanup_step_failed migration={} step=rename_back domain={} name={} error=\"{}\"",
                        info.id(), renamedAway, info.domain(), e.getMessage());
            }
        }
        if (throttled) {
            try {
                domain.throttle().ifPresent(t -> {
                    try {
                        t.setPercent(0);
                    } catch (HypervisorException e) {
                        LOG.warn("event=cleanup_step_failed migration={} step=unthrottle error=\"{}\"", info.id(), e.getMessage());
                    }
                });
            } catch (RuntimeException e) {
                LOG.warn("event=cleanup_step_failed migration={} step=unthrottle error=\"{}\"", info.id(), e.toString());
            }
        }
        if (dirtyLogEnabled) {
            try {
                domain.dirtyLog().disable();
            } catch (HypervisorException | RuntimeException e) {
                LOG.warn("event=cleanup_step_failed migration={} step=disable_log_dirty error=\"{}\"", info.id(), e.getMessage());
            }
        }
        if (pausedByUs || always) {
            try {
                domain.resume();
                resumedNanos = ticker.nanoTime();
                LOG.info("event=source_resumed migration={} domain={}", info.id(), info.domain());
            } catch (HypervisorException | RuntimeException e) {
                LOG.error("event=cleanup_step_failed migration={} step=resume domain={} error=\"{}\"", info.id(),
                        info.domain(), e.getMessage());
            }
        }
    }

    /**
     * After COMMITTING: Running heard → destroy; otherwise in doubt → the destination's durable answer or an
     * operator decides. Only NOT_COMMITTED resumes the guest here.
     */
    private MigrationPhase committingCleanup(String inDoubtReason) {
        if (connection != null) {
            connection.close();
        }
        if (inDoubtReason == null) {
            return destroyCommitted("Running heard");
        }
        advance(new MigrationPhase.InDoubt(inDoubtReason));
        InDoubtCase c = engine.openInDoubt(info);
        MigrationPhase end;
        try {
            end = settle(c, inDoubtReason);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            end = new MigrationPhase.Failed(IN_DOUBT_AT_SHUTDOWN);
        }
        engine.settleInDoubt(c, end);
        return end;
    }

    static final String IN_DOUBT_AT_SHUTDOWN = "in doubt at shutdown: guest left paused; resolved at the next start";

    private MigrationPhase settle(InDoubtCase c, String inDoubtReason) throws InterruptedException {
        Optional<InDoubtCase.Verdict> verdict = InDoubtResolver.resolve(engine, c, why -> advance(new MigrationPhase.InDoubt(why)));
        if (verdict.isEmpty()) {
            // engine closing: the journal says COMMITTING; recovery at the next start resolves it
            return new MigrationPhase.Failed(IN_DOUBT_AT_SHUTDOWN);
        }
        InDoubtCase.Verdict v = verdict.get();
        if (v.resolution() == HandoverMessage.Resolution.COMMITTED) {
            return destroyCommitted("committed, by the " + v.by());
        }
        committing = false;
        boolean byOperator = v.by().equals(InDoubtCase.BY_OPERATOR);
        restoreGuest(byOperator); // an operator's --resume-source resumes the guest even if it was paused before
        String why = (byOperator ? "operator resolved: source resumed (" : "destination did not commit (") + inDoubtReason
                + "); guest resumed on the source";
        journalQuietly(Journal.State.FAILED, why);
        return new MigrationPhase.Failed(why);
    }

    /**
     * The destination committed: destroys the copy here, again and again if it must (the copy stays paused
     * meanwhile and the operator is alerted), and journals DONE only once it is gone. If the engine closes
     * first the journal still says COMMITTING and the next start finishes it; the guest runs on the
     * destination either way.
     */
    private MigrationPhase destroyCommitted(String how) {
        try {
            if (dirtyLogEnabled) {
                domain.dirtyLog().disable();
            }
        } catch (HypervisorException | RuntimeException e) {
            LOG.debug("event=disable_log_dirty_failed migration={} error=\"{}\"", info.id(), e.getMessage());
        }
        boolean gone = Retry.untilDone(engine, info, Attention.DESTROY_FAILED, "destroy_source", () -> {
            if (engine.settings().hypervisor().findDomain(info.domain())
                    .filter(d -> sameDomain(d)).isPresent()) {
                domain.destroy();
            }
        });
        if (!gone) {
            leftover = "committed (" + how + "), but the engine stopped before the source copy was destroyed: it is"
                    + " left paused and destroyed at the next start";
            return new MigrationPhase.Done();
        }
        try {
            Failpoints.hit(FailpointNames.SOURCE_AFTER_DESTROY);
            engine.journal(Journal.Role.SOURCE, info.id(), Journal.State.DONE, withDowntime(Map.of()));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} state=DONE error=\"{}\"", info.id(), e.getMessage());
        }
        return new MigrationPhase.Done();
    }

    private boolean sameDomain(Domain d) {
        try {
            return d.info().uuid().equals(domainInfo.uuid());
        } catch (HypervisorException e) {
            return true; // cannot tell: destroying it again fails harmlessly if it is gone
        }
    }

    private void journalQuietly(Journal.State state, String reason) {
        try {
            engine.journal(Journal.Role.SOURCE, info.id(), state, withDowntime(reason.isEmpty() ? Map.of() : Map.of("reason", reason)));
        } catch (IOException e) {
            LOG.error("event=journal_write_failed migration={} state={} error=\"{}\"", info.id(), state, e.getMessage());
        }
    }
}
