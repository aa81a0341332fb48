package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.daemon.transport.proto.Accept;
import dev.migrationd.daemon.transport.proto.Compression;
import dev.migrationd.daemon.transport.proto.Envelope;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The compression part of the hand-over: what each setting offers and picks, and peers that know nothing of it. */
class CompressionNegotiationTest {

    static final long CAP_1GBIT = 125_000_000L;

    static List<StreamCodec> codecs(String text) {
        return text.equals("-") ? List.of()
                : java.util.Arrays.stream(text.split(" ")).map(s -> StreamCodec.valueOf(s.toUpperCase())).toList();
    }

    @ParameterizedTest(name = "{0} with cap {1}: offers [{2}]")
    @CsvSource({"auto, 0, -", "auto, 125000000, lz4 zstd", "auto, 268435456, lz4 zstd", "auto, 268435457, -",
            "lz4, 0, lz4", "lz4, 125000000, lz4", "zstd, 0, zstd", "off, 125000000, -"})
    void whatASourceOffers(String mode, long cap, String offered) {
        assertEquals(codecs(offered), CompressionMode.parse(mode).offer(cap));
    }

    @ParameterizedTest(name = "{0} picks {2} from [{1}]")
    @CsvSource({"auto, lz4 zstd, lz4", "auto, zstd lz4, zstd", "auto, -, none", "lz4, zstd lz4, lz4", "lz4, zstd, none",
            "zstd, lz4 zstd, zstd", "off, lz4 zstd, none", "off, -, none"})
    void whatADestinationPicks(String mode, String offered, String picked) {
        assertEquals(StreamCodec.valueOf(picked.toUpperCase()), CompressionMode.parse(mode).choose(codecs(offered)));
    }

    @Test
    void unknownSettingIsNull() {
        assertEquals(null, CompressionMode.parse("gzip"));
    }

    static HandoverMessage.Offer offer(List<StreamCodec> codecs) {
        var shape = new dev.migrationd.hypervisor.DomainShape("vm1", UUID.randomUUID(), 1024, 1, GuestType.HVM, Width.W64);
        return new HandoverMessage.Offer("m1", "hostA", shape, MigrationOptions.DEFAULTS.withBandwidthCap(CAP_1GBIT),
                java.util.Optional.empty(), codecs);
    }

    static HandoverMessage parse(Envelope e) throws PeerProtocolException {
        return PeerMessages.parse(ByteBuffer.wrap(e.toByteArray()));
    }

    @Test
    void offerAndAcceptCarryTheCodecs() throws Exception {
        HandoverMessage.Offer o = offer(List.of(StreamCodec.LZ4, StreamCodec.ZSTD));
        assertEquals(o, parse(PeerMessages.toEnvelope(o)));
        HandoverMessage.Accept a = new HandoverMessage.Accept("m1", StreamCodec.ZSTD);
        assertEquals(a, parse(PeerMessages.toEnvelope(a)));
    }

    @Test
    void anOldSourcesOfferIsPlainAndAnOldDestinationsAcceptPicksNothing() throws Exception {
        // a peer that predates compression never writes the fields: its messages are these bytes
        Envelope oldOffer = PeerMessages.toEnvelope(offer(List.of())).toBuilder()
                .setOffer(PeerMessages.toEnvelope(offer(List.of())).getOffer().toBuilder().clearCompression()).build();
        assertEquals(List.of(), ((HandoverMessage.Offer) parse(oldOffer)).compression());
        Envelope oldAccept = Envelope.newBuilder().setAccept(Accept.newBuilder().setMigrationId("m1")).build();
        assertEquals(new HandoverMessage.Accept("m1", StreamCodec.NONE), parse(oldAccept));
        // and ours, without compression, are byte for byte what an old peer sends and expects
        assertEquals(oldAccept, PeerMessages.toEnvelope(new HandoverMessage.Accept("m1", StreamCodec.NONE)));
    }

    @Test
    void codecsOfANewerPeerAreIgnoredAndATooLongListRefused() throws Exception {
        var proto = PeerMessages.toEnvelope(offer(List.of())).getOffer().toBuilder()
                .addCompressionValue(77).addCompression(Compression.COMPRESSION_LZ4).addCompression(Compression.COMPRESSION_LZ4);
        HandoverMessage.Offer parsed = (HandoverMessage.Offer) parse(Envelope.newBuilder().setOffer(proto).build());
        assertEquals(List.of(StreamCodec.LZ4), parsed.compression());
        for (int i = 0; i < PeerMessages.MAX_OFFERED_CODECS; i++) {
            proto.addCompression(Compression.COMPRESSION_ZSTD);
        }
        PeerProtocolException e = assertThrows(PeerProtocolException.class,
                () -> parse(Envelope.newBuilder().setOffer(proto).build()));
        assertTrue(e.getMessage().contains("more than " + PeerMessages.MAX_OFFERED_CODECS), e.getMessage());
    }

    @Test
    void anAcceptNamingAnUnknownCodecIsRefused() {
        Envelope e = Envelope.newBuilder().setAccept(Accept.newBuilder().setMigrationId("m1").setCompressionValue(9)).build();
        assertTrue(assertThrows(PeerProtocolException.class, () -> parse(e)).getMessage().contains("unknown compression codec 9"));
    }
}
