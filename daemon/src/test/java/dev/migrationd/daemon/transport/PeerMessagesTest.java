package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.transport.proto.DomainShape;
import dev.migrationd.daemon.transport.proto.Envelope;
import dev.migrationd.daemon.transport.proto.Offer;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PeerMessagesTest {

    static Stream<HandoverMessage> messages() {
        var shape = new dev.migrationd.hypervisor.DomainShape("vm1", UUID.randomUUID(), 262144, 4, GuestType.HVM, Width.W64);
        var options = MigrationOptions.DEFAULTS.withPolicy(MigrationOptions.PolicyKind.XEN_LEGACY)
                .withBandwidthCap(1 << 30).withMaxRounds(7).withVerify(MigrationOptions.VerifyMode.ON)
                .withTimeout(Duration.ofSeconds(33), MigrationOptions.TimeoutAction.FORCE)
                .withMaxDowntime(Duration.ofMillis(123));
        return Stream.of(
                new HandoverMessage.Offer("m1", "hostA", shape, options),
                new HandoverMessage.Offer("m1", "hostA",
                        new dev.migrationd.hypervisor.DomainShape("pv", UUID.randomUUID(), 1, 1, GuestType.PV, Width.W32),
                        MigrationOptions.DEFAULTS),
                new HandoverMessage.Offer("m1", "hostA", shape, MigrationOptions.DEFAULTS, java.util.Optional.of(
                        new dev.migrationd.hypervisor.ToolstackConfig("{\"c_info\": {\"type\": \"pvh\", \"name\": \"vm1\"}}"))),
                new HandoverMessage.Accept("m1"), new HandoverMessage.Accept("m1", StreamCodec.ZSTD, true), new HandoverMessage.Reject("m1", "name clash"),
                new HandoverMessage.StreamEnd("m1", 123456789L), new HandoverMessage.Received("m1"),
                new HandoverMessage.Failed("m1", "bad pfn"), new HandoverMessage.Abort("m1", "cancelled"),
                new HandoverMessage.Go("m1"), new HandoverMessage.Flush("m1"), new HandoverMessage.Flushed("m1"),
                new HandoverMessage.Running("m1", java.util.Optional.empty()),
                new HandoverMessage.Running("m1", java.util.Optional.of(Duration.ofNanos(123_456_789))), new HandoverMessage.Query("m1"),
                new HandoverMessage.QueryAnswer("m1", HandoverMessage.Resolution.COMMITTED),
                new HandoverMessage.QueryAnswer("m1", HandoverMessage.Resolution.NOT_COMMITTED),
                new HandoverMessage.QueryAnswer("m1", HandoverMessage.Resolution.UNKNOWN),
                new HandoverMessage.QueryAnswer("m1", HandoverMessage.Resolution.PENDING));
    }

    @ParameterizedTest
    @MethodSource("messages")
    void roundTrips(HandoverMessage m) throws Exception {
        byte[] bytes = PeerMessages.toEnvelope(m).toByteArray();
        assertEquals(m, PeerMessages.parse(ByteBuffer.wrap(bytes)));
    }

    static List<Envelope> invalid() {
        var goodShape = DomainShape.newBuilder().setName("vm").setUuid(UUID.randomUUID().toString()).setP2MSize(16)
                .setVcpus(1).setGuestType(dev.migrationd.daemon.transport.proto.GuestType.GUEST_TYPE_HVM)
                .setGuestWidthBits(64).build();
        var goodOffer = Offer.newBuilder().setMigrationId("m").setSourcePeer("a").setShape(goodShape)
                .setStreamFormat(dev.migrationd.daemon.transport.proto.StreamFormat.STREAM_FORMAT_LEGACY)
                .setOptions(dev.migrationd.daemon.transport.proto.Options.newBuilder()
                        .setPolicy(dev.migrationd.daemon.transport.proto.Policy.POLICY_DOWNTIME).setMaxDowntimeMs(300)
                        .setMaxRounds(30).setTimeoutMs(1000)
                        .setOnTimeout(dev.migrationd.daemon.transport.proto.TimeoutAction.TIMEOUT_ACTION_ABORT)).build();
        return List.of(
                Envelope.getDefaultInstance(),
                Envelope.newBuilder().setGo(dev.migrationd.daemon.transport.proto.Go.getDefaultInstance()).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().clearShape()).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setShape(goodShape.toBuilder().setP2MSize(1L << 40))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setShape(goodShape.toBuilder().setVcpus(0))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setShape(goodShape.toBuilder().setVcpus(-1))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setShape(goodShape.toBuilder().setUuid("nope"))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setShape(goodShape.toBuilder().setGuestWidthBits(16))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setStreamFormatValue(9)).build(),
                // a toolstack configuration that is not one JSON object, or too large for the limit
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setToolstackConfig("[1, 2]")).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setToolstackConfig("{\"a\": 1")).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setToolstackConfig(
                        "{\"a\": \"" + "x".repeat(dev.migrationd.hypervisor.ToolstackConfig.MAX_BYTES) + "\"}")).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setOptions(goodOffer.getOptions().toBuilder().setMaxRounds(0))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setOptions(goodOffer.getOptions().toBuilder().setTimeoutMs(0))).build(),
                Envelope.newBuilder().setOffer(goodOffer.toBuilder().setOptions(goodOffer.getOptions().toBuilder().setBandwidthCap(-5))).build(),
                Envelope.newBuilder().setStreamEnd(dev.migrationd.daemon.transport.proto.StreamEnd.newBuilder().setMigrationId("m").setStreamBytes(-1)).build(),
                Envelope.newBuilder().setReject(dev.migrationd.daemon.transport.proto.Reject.newBuilder().setMigrationId("x".repeat(2000))).build(),
                // a destination downtime of more than a day (or "negative": the top bit of the u64)
                Envelope.newBuilder().setRunning(dev.migrationd.daemon.transport.proto.Running.newBuilder().setMigrationId("m")
                        .setDowntimeNanos(PeerMessages.MAX_MILLIS * 1_000_000 + 1)).build(),
                Envelope.newBuilder().setRunning(dev.migrationd.daemon.transport.proto.Running.newBuilder().setMigrationId("m")
                        .setDowntimeNanos(-1)).build());
    }

    @ParameterizedTest
    @MethodSource("invalid")
    void rejectsInvalidEnvelopes(Envelope e) {
        PeerProtocolException ex = assertThrows(PeerProtocolException.class,
                () -> PeerMessages.parse(ByteBuffer.wrap(e.toByteArray())));
        assertTrue(!ex.getMessage().isEmpty());
    }

    @org.junit.jupiter.api.Test
    void rejectsGarbage() {
        assertThrows(PeerProtocolException.class, () -> PeerMessages.parse(ByteBuffer.wrap(new byte[] {(byte) 0xFF, (byte) 0xFF})));
    }
}
