package dev.migrationd.daemon.transport;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.transport.proto.Compression;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.transport.proto.Envelope;
import dev.migrationd.daemon.transport.proto.Options;
import dev.migrationd.daemon.transport.proto.Policy;
import dev.migrationd.daemon.transport.proto.QueryAnswer;
import dev.migrationd.daemon.transport.proto.StreamFormat;
import dev.migrationd.daemon.transport.proto.TimeoutAction;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;

/**
 * Maps the engine's {@link HandoverMessage}s to and from the protobuf {@link Envelope} of
 * {@code peer.proto}. Parsing validates everything (a peer is untrusted): an unset body, an unknown enum
 * value, a missing id or an impossible shape is a {@link PeerProtocolException} naming the problem.
 * Stateless; any thread.
 */
public final class PeerMessages {

    /** Longest accepted string field (ids, names, reasons). */
    public static final int MAX_STRING = 1024;
    /** Longest accepted max-downtime or timeout, in milliseconds (one day). */
    public static final long MAX_MILLIS = 24L * 3600 * 1000;
    /** Most codecs an offer may list (there are two today; room for a few more). */
    public static final int MAX_OFFERED_CODECS = 8;

    private PeerMessages() {
    }

    public static Envelope toEnvelope(HandoverMessage m) {
        Envelope.Builder b = Envelope.newBuilder();
        switch (m) {
            case HandoverMessage.Offer o -> b.setOffer(dev.migrationd.daemon.transport.proto.Offer.newBuilder()
                    .setMigrationId(o.migrationId()).setSourcePeer(o.sourcePeer())
                    .setShape(shape(o.shape())).setStreamFormat(format(o.options().format()))
                    .setOptions(options(o.options()))
                    .setToolstackConfig(o.toolstackConfig().map(ToolstackConfig::json).orElse(""))
                    .addAllCompression(o.compression().stream().map(PeerMessages::codec).toList()));
            case HandoverMessage.Accept a -> b.setAccept(dev.migrationd.daemon.transport.proto.Accept.newBuilder()
                    .setMigrationId(a.migrationId()).setCompression(codec(a.compression()))
                    .setZeroedAllocation(a.zeroedAllocation()));
            case HandoverMessage.Reject r -> b.setReject(dev.migrationd.daemon.transport.proto.Reject.newBuilder()
                    .setMigrationId(r.migrationId()).setReason(r.reason()));
            case HandoverMessage.StreamEnd e -> b.setStreamEnd(dev.migrationd.daemon.transport.proto.StreamEnd
                    .newBuilder().setMigrationId(e.migrationId()).setStreamBytes(e.streamBytes()));
            case HandoverMessage.Received r -> b.setReceived(
                    dev.migrationd.daemon.transport.proto.Received.newBuilder().setMigrationId(r.migrationId()));
            case HandoverMessage.Failed f -> b.setFailed(dev.migrationd.daemon.transport.proto.Failed.newBuilder()
                    .setMigrationId(f.migrationId()).setReason(f.reason()));
            case HandoverMessage.Abort a -> b.setAbort(dev.migrationd.daemon.transport.proto.Abort.newBuilder()
                    .setMigrationId(a.migrationId()).setReason(a.reason()));
            case HandoverMessage.Flush f -> b.setFlush(
                    dev.migrationd.daemon.transport.proto.Flush.newBuilder().setMigrationId(f.migrationId()));
            case HandoverMessage.Flushed f -> b.setFlushed(
                    dev.migrationd.daemon.transport.proto.Flushed.newBuilder().setMigrationId(f.migrationId()));
            case HandoverMessage.Go g -> b.setGo(
                    dev.migrationd.daemon.transport.proto.Go.newBuilder().setMigrationId(g.migrationId()));
            case HandoverMessage.Running r -> {
                var rb = dev.migrationd.daemon.transport.proto.Running.newBuilder().setMigrationId(r.migrationId());
                r.destinationDowntime().ifPresent(d -> rb.setDowntimeNanos(d.toNanos()));
                b.setRunning(rb);
            }
            case HandoverMessage.Query q -> b.setQuery(
                    dev.migrationd.daemon.transport.proto.Query.newBuilder().setMigrationId(q.migrationId()));
            case HandoverMessage.QueryAnswer q -> b.setQueryAnswer(QueryAnswer.newBuilder()
                    .setMigrationId(q.migrationId()).setResolution(switch (q.resolution()) {
                        case COMMITTED -> QueryAnswer.Resolution.RESOLUTION_COMMITTED;
                        case NOT_COMMITTED -> QueryAnswer.Resolution.RESOLUTION_NOT_COMMITTED;
                        case UNKNOWN -> QueryAnswer.Resolution.RESOLUTION_UNKNOWN;
                        case PENDING -> QueryAnswer.Resolution.RESOLUTION_PENDING;
                    }));
        }
        return b.build();
    }

    /** Parses and validates one envelope payload. */
    public static HandoverMessage parse(ByteBuffer payload) throws PeerProtocolException {
        Envelope e;
        try {
            e = Envelope.parseFrom(payload);
        } catch (InvalidProtocolBufferException ex) {
            throw new PeerProtocolException("envelope is not valid protobuf: " + ex.getMessage());
        }
        return fromEnvelope(e);
    }

    public static HandoverMessage fromEnvelope(Envelope e) throws PeerProtocolException {
        return switch (e.getBodyCase()) {
            case OFFER -> {
                var o = e.getOffer();
                if (!o.hasShape()) {
                    throw new PeerProtocolException("offer without a domain shape");
                }
                MigrationOptions options = options(o.getOptions(), o.getStreamFormat());
                yield new HandoverMessage.Offer(id(o.getMigrationId()), string("source_peer", o.getSourcePeer(), false),
                        shape(o.getShape()), options, toolstackConfig(o.getToolstackConfig()), offered(o));
            }
            case ACCEPT -> new HandoverMessage.Accept(id(e.getAccept().getMigrationId()), accepted(e.getAccept()),
                    e.getAccept().getZeroedAllocation());
            case REJECT -> new HandoverMessage.Reject(id(e.getReject().getMigrationId()),
                    string("reason", e.getReject().getReason(), true));
            case STREAM_END -> {
                long bytes = e.getStreamEnd().getStreamBytes();
                if (bytes < 0) {
                    throw new PeerProtocolException("stream_end bytes " + Long.toUnsignedString(bytes) + " too large");
                }
                yield new HandoverMessage.StreamEnd(id(e.getStreamEnd().getMigrationId()), bytes);
            }
            case RECEIVED -> new HandoverMessage.Received(id(e.getReceived().getMigrationId()));
            case FAILED -> new HandoverMessage.Failed(id(e.getFailed().getMigrationId()),
                    string("reason", e.getFailed().getReason(), true));
            case ABORT -> new HandoverMessage.Abort(id(e.getAbort().getMigrationId()),
                    string("reason", e.getAbort().getReason(), true));
            case GO -> new HandoverMessage.Go(id(e.getGo().getMigrationId()));
            case FLUSH -> new HandoverMessage.Flush(id(e.getFlush().getMigrationId()));
            case FLUSHED -> new HandoverMessage.Flushed(id(e.getFlushed().getMigrationId()));
            case RUNNING -> new HandoverMessage.Running(id(e.getRunning().getMigrationId()), downtime(e.getRunning()));
            case QUERY -> new HandoverMessage.Query(id(e.getQuery().getMigrationId()));
            case QUERY_ANSWER -> new HandoverMessage.QueryAnswer(id(e.getQueryAnswer().getMigrationId()),
                    switch (e.getQueryAnswer().getResolution()) {
                        case RESOLUTION_COMMITTED -> HandoverMessage.Resolution.COMMITTED;
                        case RESOLUTION_NOT_COMMITTED -> HandoverMessage.Resolution.NOT_COMMITTED;
                        case RESOLUTION_UNKNOWN -> HandoverMessage.Resolution.UNKNOWN;
                        case RESOLUTION_PENDING -> HandoverMessage.Resolution.PENDING;
                        default -> throw new PeerProtocolException("query answer without a known resolution");
                    });
            case BODY_NOT_SET -> throw new PeerProtocolException("envelope without a message (unknown or empty body)");
        };
    }

    private static Compression codec(StreamCodec c) {
        return switch (c) {
            case NONE -> Compression.COMPRESSION_NONE;
            case LZ4 -> Compression.COMPRESSION_LZ4;
            case ZSTD -> Compression.COMPRESSION_ZSTD;
        };
    }

    /**
     * The offer's codecs, in its order: at most {@link #MAX_OFFERED_CODECS}; a codec this side does not know
     * (a newer peer's) and repeats are dropped, and NONE is not a codec to offer.
     */
    private static java.util.List<StreamCodec> offered(dev.migrationd.daemon.transport.proto.Offer o)
            throws PeerProtocolException {
        if (o.getCompressionCount() > MAX_OFFERED_CODECS) {
            throw new PeerProtocolException("offer lists " + o.getCompressionCount() + " compression codecs, more than "
                    + MAX_OFFERED_CODECS);
        }
        java.util.LinkedHashSet<StreamCodec> out = new java.util.LinkedHashSet<>();
        for (Compression c : o.getCompressionList()) {
            switch (c) {
                case COMPRESSION_LZ4 -> out.add(StreamCodec.LZ4);
                case COMPRESSION_ZSTD -> out.add(StreamCodec.ZSTD);
                default -> {
                    // NONE or a codec from a newer peer: nothing to pick
                }
            }
        }
        return java.util.List.copyOf(out);
    }

    /** The destination's pick: one this side knows, or the destination speaks of something never offered. */
    private static StreamCodec accepted(dev.migrationd.daemon.transport.proto.Accept a) throws PeerProtocolException {
        return switch (a.getCompression()) {
            case COMPRESSION_NONE -> StreamCodec.NONE;
            case COMPRESSION_LZ4 -> StreamCodec.LZ4;
            case COMPRESSION_ZSTD -> StreamCodec.ZSTD;
            default -> throw new PeerProtocolException("accept names an unknown compression codec " + a.getCompressionValue());
        };
    }

    /** The destination's downtime in Running: absent from older peers; more than a day is nonsense. */
    private static java.util.Optional<Duration> downtime(dev.migrationd.daemon.transport.proto.Running r)
            throws PeerProtocolException {
        if (!r.hasDowntimeNanos()) {
            return java.util.Optional.empty();
        }
        long n = r.getDowntimeNanos();
        if (n < 0 || n > MAX_MILLIS * 1_000_000) {
            throw new PeerProtocolException("running downtime_nanos " + Long.toUnsignedString(n) + " exceeds "
                    + MAX_MILLIS + " ms");
        }
        return java.util.Optional.of(Duration.ofNanos(n));
    }

    private static String id(String id) throws PeerProtocolException {
        return string("migration_id", id, false);
    }

    private static String string(String field, String value, boolean emptyOk) throws PeerProtocolException {
        if (!emptyOk && value.isEmpty()) {
            throw new PeerProtocolException(field + " is empty");
        }
        if (value.length() > MAX_STRING) {
            throw new PeerProtocolException(field + " longer than " + MAX_STRING + " characters");
        }
        return value;
    }

    /** The offer's toolstack configuration: absent when empty, else bounded and checked ({@link ToolstackConfig}). */
    static Optional<ToolstackConfig> toolstackConfig(String json) throws PeerProtocolException {
        if (json.isEmpty()) {
            return Optional.empty();
        }
        String problem = ToolstackConfig.problem(json);
        if (problem != null) {
            throw new PeerProtocolException("offer's toolstack_config " + problem);
        }
        return Optional.of(new ToolstackConfig(json));
    }

    private static dev.migrationd.daemon.transport.proto.DomainShape shape(DomainShape s) {
        return dev.migrationd.daemon.transport.proto.DomainShape.newBuilder().setName(s.name())
                .setUuid(s.uuid().toString()).setP2MSize(s.p2mSize()).setVcpus(s.vcpus())
                .setGuestType(s.guestType() == GuestType.PV ? dev.migrationd.daemon.transport.proto.GuestType.GUEST_TYPE_PV
                        : dev.migrationd.daemon.transport.proto.GuestType.GUEST_TYPE_HVM)
                .setGuestWidthBits(s.guestWidth().bits()).build();
    }

    private static DomainShape shape(dev.migrationd.daemon.transport.proto.DomainShape s) throws PeerProtocolException {
        GuestType type = switch (s.getGuestType()) {
            case GUEST_TYPE_PV -> GuestType.PV;
            case GUEST_TYPE_HVM -> GuestType.HVM;
            default -> throw new PeerProtocolException("offer shape has no known guest type");
        };
        try {
            UUID uuid = UUID.fromString(string("uuid", s.getUuid(), false));
            return new DomainShape(string("name", s.getName(), false), uuid, s.getP2MSize(),
                    Math.toIntExact(Integer.toUnsignedLong(s.getVcpus())), type, Width.ofBits(s.getGuestWidthBits()));
        } catch (IllegalArgumentException | ArithmeticException ex) {
            throw new PeerProtocolException("offer shape invalid: " + ex.getMessage());
        }
    }

    private static StreamFormat format(MigrationOptions.StreamFormat f) {
        return f == MigrationOptions.StreamFormat.LEGACY ? StreamFormat.STREAM_FORMAT_LEGACY : StreamFormat.STREAM_FORMAT_V2;
    }

    private static Options options(MigrationOptions o) {
        return Options.newBuilder()
                .setPolicy(o.policy() == MigrationOptions.PolicyKind.DOWNTIME ? Policy.POLICY_DOWNTIME : Policy.POLICY_XEN_LEGACY)
                .setMaxDowntimeMs(o.maxDowntime().toMillis()).setBandwidthCap(o.bandwidthCap())
                .setMaxRounds(o.maxRounds()).setTimeoutMs(o.timeout().toMillis())
                .setOnTimeout(o.onTimeout() == MigrationOptions.TimeoutAction.ABORT
                        ? TimeoutAction.TIMEOUT_ACTION_ABORT : TimeoutAction.TIMEOUT_ACTION_FORCE)
                .setVerify(o.verify() == MigrationOptions.VerifyMode.ON).build();
    }

    private static MigrationOptions options(Options o, StreamFormat f) throws PeerProtocolException {
        MigrationOptions.StreamFormat format = switch (f) {
            case STREAM_FORMAT_LEGACY -> MigrationOptions.StreamFormat.LEGACY;
            case STREAM_FORMAT_V2 -> MigrationOptions.StreamFormat.V2;
            default -> throw new PeerProtocolException("offer has no known stream format");
        };
        MigrationOptions.PolicyKind policy = switch (o.getPolicy()) {
            case POLICY_DOWNTIME -> MigrationOptions.PolicyKind.DOWNTIME;
            case POLICY_XEN_LEGACY -> MigrationOptions.PolicyKind.XEN_LEGACY;
            default -> throw new PeerProtocolException("offer has no known policy");
        };
        MigrationOptions.TimeoutAction action = switch (o.getOnTimeout()) {
            case TIMEOUT_ACTION_ABORT -> MigrationOptions.TimeoutAction.ABORT;
            case TIMEOUT_ACTION_FORCE -> MigrationOptions.TimeoutAction.FORCE;
            default -> throw new PeerProtocolException("offer has no known timeout action");
        };
        if (o.getMaxDowntimeMs() < 1 || o.getMaxDowntimeMs() > MAX_MILLIS || o.getTimeoutMs() < 1
                || o.getTimeoutMs() > MAX_MILLIS) {
            throw new PeerProtocolException("offer downtime or timeout outside 1.." + MAX_MILLIS + " ms");
        }
        try {
            return new MigrationOptions(policy, Duration.ofMillis(o.getMaxDowntimeMs()), o.getBandwidthCap(),
                    o.getMaxRounds(), Duration.ofMillis(o.getTimeoutMs()), action,
                    o.getVerify() ? MigrationOptions.VerifyMode.ON : MigrationOptions.VerifyMode.OFF, format);
        } catch (IllegalArgumentException ex) {
            throw new PeerProtocolException("offer options invalid: " + ex.getMessage());
        }
    }
}
