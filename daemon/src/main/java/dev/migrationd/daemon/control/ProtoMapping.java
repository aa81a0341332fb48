package dev.migrationd.daemon.control;

import com.google.protobuf.Timestamp;
import dev.migrationd.control.v1.CancelResult;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.DomainState;
import dev.migrationd.control.v1.DowntimeParts;
import dev.migrationd.control.v1.GuestType;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.Outcome;
import dev.migrationd.control.v1.Phase;
import dev.migrationd.control.v1.Policy;
import dev.migrationd.control.v1.StreamFormat;
import dev.migrationd.control.v1.TimeoutAction;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.protocol.StreamLimits;
import java.time.Duration;
import java.time.Instant;

/** Engine and hypervisor values ↔ control-API messages. Pure functions. */
final class ProtoMapping {

    /** Accepted max-downtime targets (the hand-over offer carries whole milliseconds). */
    static final Duration MIN_DOWNTIME_LIMIT = Duration.ofMillis(1);
    static final Duration MAX_DOWNTIME_LIMIT = Duration.ofHours(1);
    /** Accepted timeouts (the peer refuses offers outside 1 ms .. 1 day). */
    static final Duration MIN_TIMEOUT = Duration.ofMillis(1);
    static final Duration MAX_TIMEOUT = Duration.ofDays(1);

    private ProtoMapping() {
    }

    static com.google.protobuf.Duration duration(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }

    static com.google.protobuf.Duration nanos(long nanos) {
        return duration(Duration.ofNanos(nanos));
    }

    static Duration duration(com.google.protobuf.Duration d) {
        if (d.getSeconds() < 0 || d.getNanos() < 0 || d.getNanos() > 999_999_999) {
            throw new IllegalArgumentException("durations must not be negative");
        }
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    static Timestamp timestamp(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    // ---- options -------------------------------------------------------------------------------------

    /** The engine's options from the request's; unset fields take the engine's defaults. Bad values: IllegalArgumentException naming the field. */
    static MigrationOptions options(dev.migrationd.control.v1.MigrationOptions o) {
        MigrationOptions m = MigrationOptions.DEFAULTS;
        m = switch (o.getPolicy()) {
            case POLICY_UNSPECIFIED -> m;
            case POLICY_DOWNTIME -> m.withPolicy(MigrationOptions.PolicyKind.DOWNTIME);
            case POLICY_XEN_LEGACY -> m.withPolicy(MigrationOptions.PolicyKind.XEN_LEGACY);
            case UNRECOGNIZED -> throw new IllegalArgumentException("options.policy: unknown value " + o.getPolicyValue());
        };
        if (o.hasMaxDowntime()) {
            Duration d = field("options.max_downtime", o.getMaxDowntime());
            if (d.compareTo(MIN_DOWNTIME_LIMIT) < 0 || d.compareTo(MAX_DOWNTIME_LIMIT) > 0) {
                throw new IllegalArgumentException("options.max_downtime " + d + ": must be 1ms .. 1h");
            }
            m = m.withMaxDowntime(d);
        }
        m = m.withBandwidthCap(o.getBandwidthBytesPerSecond() < 0 ? 0 : o.getBandwidthBytesPerSecond());
        if (o.getMaxRounds() != 0) {
            if (o.getMaxRounds() > MigrationOptions.MAX_ROUNDS_LIMIT) {
                throw new IllegalArgumentException("options.max_rounds " + Integer.toUnsignedString(o.getMaxRounds())
                        + ": must be 1.." + MigrationOptions.MAX_ROUNDS_LIMIT);
            }
            m = m.withMaxRounds(o.getMaxRounds());
        }
        MigrationOptions.TimeoutAction action = switch (o.getOnTimeout()) {
            case TIMEOUT_ACTION_UNSPECIFIED -> m.onTimeout();
            case TIMEOUT_ACTION_ABORT -> MigrationOptions.TimeoutAction.ABORT;
            case TIMEOUT_ACTION_FORCE -> MigrationOptions.TimeoutAction.FORCE;
            case UNRECOGNIZED -> throw new IllegalArgumentException("options.on_timeout: unknown value " + o.getOnTimeoutValue());
        };
        Duration timeout = m.timeout();
        if (o.hasTimeout()) {
            timeout = field("options.timeout", o.getTimeout());
            if (timeout.compareTo(MIN_TIMEOUT) < 0 || timeout.compareTo(MAX_TIMEOUT) > 0) {
                throw new IllegalArgumentException("options.timeout " + timeout + ": must be 1ms .. 24h");
            }
        }
        m = m.withTimeout(timeout, action);
        m = m.withVerify(o.getVerify() ? MigrationOptions.VerifyMode.ON : MigrationOptions.VerifyMode.OFF);
        return m.withFormat(format(o.getFormat(), "options.format"));
    }

    static MigrationOptions.StreamFormat format(StreamFormat f, String field) {
        return switch (f) {
            case STREAM_FORMAT_UNSPECIFIED, STREAM_FORMAT_LEGACY -> MigrationOptions.StreamFormat.LEGACY;
            case STREAM_FORMAT_V2 -> MigrationOptions.StreamFormat.V2;
            case UNRECOGNIZED -> throw new IllegalArgumentException(field + ": unknown stream format " + f);
        };
    }

    private static Duration field(String name, com.google.protobuf.Duration d) {
        try {
            return duration(d);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage());
        }
    }

    static dev.migrationd.control.v1.MigrationOptions options(MigrationOptions m) {
        return dev.migrationd.control.v1.MigrationOptions.newBuilder()
                .setPolicy(m.policy() == MigrationOptions.PolicyKind.XEN_LEGACY ? Policy.POLICY_XEN_LEGACY : Policy.POLICY_DOWNTIME)
                .setMaxDowntime(duration(m.maxDowntime()))
                .setBandwidthBytesPerSecond(m.bandwidthCap())
                .setMaxRounds(m.maxRounds())
                .setTimeout(duration(m.timeout()))
                .setOnTimeout(m.onTimeout() == MigrationOptions.TimeoutAction.FORCE
                        ? TimeoutAction.TIMEOUT_ACTION_FORCE : TimeoutAction.TIMEOUT_ACTION_ABORT)
                .setVerify(m.verify() == MigrationOptions.VerifyMode.ON)
                .setFormat(m.format() == MigrationOptions.StreamFormat.V2 ? StreamFormat.STREAM_FORMAT_V2 : StreamFormat.STREAM_FORMAT_LEGACY)
                .build();
    }

    // ---- migrations ----------------------------------------------------------------------------------

    static Phase phase(MigrationPhase p) {
        return switch (p) {
            case MigrationPhase.Offered o -> Phase.PHASE_OFFERED;
            case MigrationPhase.Receiving r -> Phase.PHASE_RECEIVING;
            case MigrationPhase.PreCopy r -> Phase.PHASE_PRECOPY;
            case MigrationPhase.StopAndCopy s -> Phase.PHASE_STOP_AND_COPY;
            case MigrationPhase.Tail t -> Phase.PHASE_TAIL;
            case MigrationPhase.AwaitingReceived a -> Phase.PHASE_AWAITING_RECEIVED;
            case MigrationPhase.AwaitingGo a -> Phase.PHASE_AWAITING_GO;
            case MigrationPhase.Committing c -> Phase.PHASE_COMMITTING;
            case MigrationPhase.InDoubt d -> Phase.PHASE_IN_DOUBT;
            case MigrationPhase.Done d -> Phase.PHASE_SUCCEEDED;
            case MigrationPhase.Failed f -> Phase.PHASE_FAILED;
            case MigrationPhase.Cancelled c -> Phase.PHASE_CANCELLED;
        };
    }

    /** What a phase event says besides the phase. */
    static String detail(MigrationPhase p) {
        return switch (p) {
            case MigrationPhase.PreCopy r -> "round " + r.round();
            case MigrationPhase.InDoubt d -> d.why();
            case MigrationPhase.Failed f -> f.reason();
            default -> "";
        };
    }

    static Outcome outcome(MigrationResult.Outcome o) {
        return switch (o) {
            case SUCCEEDED -> Outcome.OUTCOME_SUCCEEDED;
            case FAILED -> Outcome.OUTCOME_FAILED;
            case CANCELLED -> Outcome.OUTCOME_CANCELLED;
            case ABORTED -> Outcome.OUTCOME_ABORTED;
        };
    }

    static CancelResult cancel(CancelOutcome o) {
        return switch (o) {
            case CANCELLED -> CancelResult.CANCEL_RESULT_CANCELLED;
            case COMPLETED_FIRST -> CancelResult.CANCEL_RESULT_COMPLETED_FIRST;
            case FAILED_FIRST -> CancelResult.CANCEL_RESULT_FAILED_FIRST;
        };
    }

    static dev.migrationd.control.v1.RoundStats round(RoundStats r) {
        return dev.migrationd.control.v1.RoundStats.newBuilder()
                .setRound(r.round())
                .setPagesDirtied(r.pagesDirtied())
                .setPagesSent(r.pagesSent())
                .setBytesSent(r.bytes())
                .setDuration(nanos(r.durationNanos()))
                .setDirtyRateBytesPerSecond(r.dirtyRate() * StreamLimits.PAGE_SIZE)
                .setBandwidthBytesPerSecond(r.bandwidth())
                .setExpectedDowntime(nanos(Math.max(0, r.expectedDowntimeNanos())))
                .setPagesRemaining(r.remainingDirtyPages())
                .setThrottlePercent(r.throttlePercent())
                .setWireBytes(r.wireBytes())
                .build();
    }

    static dev.migrationd.control.v1.MigrationResult result(Direction direction, MigrationResult r) {
        MigrationResult.Downtime d = r.downtime();
        dev.migrationd.control.v1.MigrationResult.Builder b = dev.migrationd.control.v1.MigrationResult.newBuilder()
                .setOutcome(outcome(r.outcome()))
                .setTotalTime(duration(r.totalTime()))
                .setRounds(r.rounds())
                .setBytesSent(r.bytes())
                .setSetupTime(duration(r.setupTime()))
                .setMessage(r.reason())
                .setDowntimeParts(DowntimeParts.newBuilder().setFinalRound(duration(d.finalRound()))
                        .setStateCapture(duration(d.stateCapture())).setStateSend(duration(d.stateSend()))
                        .setCompletion(duration(d.completion())));
        if (direction.migration()) {
            b.setCompression(r.compression().label()).setWireBytes(r.wireBytes());
        }
        if (direction == Direction.OUTGOING || direction == Direction.SAVE) {
            b.setDowntimeSource(duration(d.total()));
            // reported by the destination in Running (a successful migration with a peer that reports it)
            r.destinationDowntime().ifPresent(dd -> b.setDowntimeDestination(duration(dd)));
        } else {
            b.setDowntimeDestination(duration(d.total()));
        }
        return b.build();
    }

    private static Migration.Builder base(String localHost, MigrationInfo info, MigrationPhase phase) {
        Migration.Builder b = Migration.newBuilder()
                .setId(info.id())
                .setDomain(info.domain());
        switch (info.direction()) {
            case OUTGOING -> b.setSourceHost(localHost).setDestinationHost(info.peer())
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_OUTGOING);
            case INCOMING -> b.setSourceHost(info.peer()).setDestinationHost(localHost)
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_INCOMING);
            case SAVE -> b.setSourceHost(localHost).setFile(info.peer())
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_SAVE);
            case RESTORE -> b.setDestinationHost(localHost).setFile(info.peer())
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_RESTORE);
        }
        b.setOptions(options(info.options()))
                .setPhase(phase(phase))
                .setStartedAt(timestamp(info.startedAt()));
        if (phase instanceof MigrationPhase.InDoubt d) {
            b.setPhaseDetail(d.why()); // what it waits for, or the resolve command an operator must run
        }
        if (info.idempotencyKey() != null) {
            b.setIdempotencyKey(info.idempotencyKey());
        }
        return b;
    }

    static Migration migration(String localHost, MigrationHandle h) {
        MigrationInfo info = h.info();
        Migration.Builder b = base(localHost, info, h.phase());
        h.lastRound().ifPresent(r -> b.setLastRound(round(r)));
        if (h.result().isDone()) {
            b.setResult(result(info.direction(), h.result().join()));
        }
        return b.build();
    }

    static Migration migration(String localHost, MigrationSummary s) {
        Migration.Builder b = base(localHost, s.info(), s.phase());
        if (s.result().isPresent()) {
            b.setResult(result(s.info().direction(), s.result().get()));
        } else if (s.outcome().isPresent()) {
            // history read back from the journal keeps the outcome, the reason and this side's downtime
            var r = dev.migrationd.control.v1.MigrationResult.newBuilder()
                    .setOutcome(outcome(s.outcome().get())).setMessage(s.reason());
            s.downtime().ifPresent(d -> {
                if (s.info().direction() == Direction.INCOMING) {
                    r.setDowntimeDestination(duration(d));
                } else {
                    r.setDowntimeSource(duration(d));
                }
            });
            b.setResult(r);
        }
        return b.build();
    }

    // ---- domains -------------------------------------------------------------------------------------

    static Domain domain(DomainInfo d, boolean migrating) {
        return Domain.newBuilder()
                .setName(d.name())
                .setDomid(d.domid())
                .setUuid(d.uuid().toString())
                .setMemoryBytes(d.memoryBytes())
                .setVcpus(d.vcpus())
                .setGuestType(switch (d.guestType()) {
                    case PV -> GuestType.GUEST_TYPE_PV;
                    case HVM -> d.pvh() ? GuestType.GUEST_TYPE_PVH : GuestType.GUEST_TYPE_HVM;
                })
                .setGuestWidthBits(d.guestWidth().bits())
                .setState(d.state() == dev.migrationd.hypervisor.DomainState.RUNNING
                        ? DomainState.DOMAIN_STATE_RUNNING : DomainState.DOMAIN_STATE_PAUSED)
                .setMigrating(migrating)
                .build();
    }
}
