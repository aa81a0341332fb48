package dev.migrationd.daemon.engine.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthOptions;
import dev.migrationd.protocol.v2.EmulatorRecord;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.V2Item;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What a destination whose toolstack builds the guest (libxl) is fed: the incoming stream, legacy or v2, as one
 * whole libxl v2 stream (header, LIBXC_CONTEXT, the libxc stream, END; no emulator record for a PVH guest), in
 * whatever pieces the network delivers; refusals and the toolstack's failures reach the migration.
 */
class ToolstackDestinationStreamTest {

    static final long PAGES = 64;

    /** A StreamRestore that keeps what it is written; {@link #failAfter} makes its writes fail as libxl's would. */
    static final class Recording implements StreamRestore {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long failAfter = -1;
        Duration finishedWith;
        Domain result;
        String aborted;

        @Override
        public void write(ByteBuffer b) throws HypervisorException {
            byte[] a = new byte[b.remaining()];
            b.get(a);
            bytes.writeBytes(a);
            if (failAfter >= 0 && bytes.size() > failAfter) {
                throw new HypervisorException("libxl_domain_create_restore", "g", "returned -3 (ERROR_FAIL)");
            }
        }

        @Override
        public Domain finish(Duration timeout) {
            finishedWith = timeout;
            return result;
        }

        @Override
        public void abort(String reason) {
            aborted = reason;
        }

        @Override
        public void close() {
            abort("closed");
        }
    }

    static DomainShape shape() {
        return new DomainShape("g", UUID.randomUUID(), PAGES, 2, GuestType.HVM, Width.W64);
    }

    static byte[] synth(SynthOptions.Format f, int checkpoints) throws Exception {
        return StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, PAGES).withFormat(f).withCheckpoints(checkpoints, false));
    }

    static MigrationOptions.StreamFormat formatOf(SynthOptions.Format f) {
        return f == SynthOptions.Format.LEGACY ? MigrationOptions.StreamFormat.LEGACY : MigrationOptions.StreamFormat.V2;
    }

    /** Feeds {@code stream} in pieces of {@code piece} bytes, as frames arrive; returns the bytes left unconsumed. */
    static int feed(ToolstackDestinationStream s, byte[] stream, int piece) throws Exception {
        int left = 0;
        for (int off = 0; off < stream.length; off += piece) {
            ByteBuffer b = ByteBuffer.wrap(stream, off, Math.min(piece, stream.length - off));
            s.feed(b);
            left += b.remaining();
        }
        return left;
    }

    static List<V2Item> readLibxl(byte[] libxl) throws StreamException {
        List<V2Item> items = new ArrayList<>();
        LibxlReader r = new LibxlReader(StreamLimits.DEFAULT.withMaxP2mSize(PAGES), items::add, null);
        ByteBuffer b = ByteBuffer.wrap(libxl);
        r.feed(b);
        r.finish();
        assertTrue(r.isDone(), "a whole libxl stream");
        assertEquals(0, b.remaining(), "nothing after libxl's END");
        return items;
    }

    @ParameterizedTest
    @EnumSource(value = SynthOptions.Format.class, names = {"LEGACY", "V2_LIBXC"})
    void theIncomingStreamBecomesOneWholeLibxlStreamWithoutAnEmulatorRecord(SynthOptions.Format f) throws Exception {
        byte[] in = synth(f, 1);
        Recording libxl = new Recording();
        int[] stops = {0};
        ToolstackDestinationStream s = ToolstackDestinationStream.of(formatOf(f), libxl, shape(), () -> stops[0]++,
                Duration.ofSeconds(7));
        assertEquals(0, feed(s, in, 1000));
        assertTrue(s.complete());
        assertEquals(in.length, s.offset());
        s.completeRestore();
        assertEquals(Duration.ofSeconds(7), libxl.finishedWith, "the toolstack finishes the domain only now");

        List<V2Item> items = readLibxl(libxl.bytes.toByteArray());
        assertTrue(items.getFirst() instanceof LibxlHeader);
        assertEquals(LibxlSignalRecord.LIBXC_CONTEXT, items.get(1));
        assertEquals(LibxlSignalRecord.END, items.getLast());
        assertFalse(items.stream().anyMatch(i -> i instanceof EmulatorRecord), "a PVH guest has no device model");
        long pages = items.stream().filter(i -> i instanceof PageData).mapToLong(i -> ((PageData) i).count()).sum();
        assertTrue(pages >= PAGES - 4, "the guest's pages travel: " + pages);
        assertEquals(1, stops[0], "stop-and-copy is seen once");
        if (f == SynthOptions.Format.V2_LIBXC) {
            assertEquals(PAGES, s.pages());
            // the libxc stream passes through as it came, after libxl's header (16 bytes) and LIBXC_CONTEXT (8)
            byte[] out = libxl.bytes.toByteArray();
            assertArrayEquals(in, Arrays.copyOfRange(out, 24, 24 + in.length));
        }
    }

    @Test
    void bytesAfterTheStreamAreLeftForTheCallerAndTheSplitDoesNotMatter() throws Exception {
        byte[] in = synth(SynthOptions.Format.V2_LIBXC, 1);
        byte[] withTail = Arrays.copyOf(in, in.length + 5);
        Recording a = new Recording();
        ToolstackDestinationStream s = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.V2, a, shape(), () -> { });
        assertEquals(5, feed(s, withTail, withTail.length));
        Recording b = new Recording();
        ToolstackDestinationStream byteWise = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.V2, b, shape(), () -> { });
        assertEquals(0, feed(byteWise, in, 7));
        assertArrayEquals(a.bytes.toByteArray(), b.bytes.toByteArray());
    }

    @ParameterizedTest
    @EnumSource(value = SynthOptions.Format.class, names = {"LEGACY", "V2_LIBXC"})
    void aStreamThatStopsShortIsNotCompleteAndTheToolstackIsNotAskedToFinish(SynthOptions.Format f) throws Exception {
        byte[] in = synth(f, 1);
        Recording libxl = new Recording();
        ToolstackDestinationStream s = ToolstackDestinationStream.of(formatOf(f), libxl, shape(), () -> { });
        feed(s, Arrays.copyOf(in, in.length - 9), 4096);
        assertFalse(s.complete());
        StreamException e = assertThrows(StreamException.class, s::completeRestore);
        assertTrue(e.getMessage().contains("stream ended before"), e.getMessage());
        assertEquals(null, libxl.finishedWith);
        assertThrows(IllegalStateException.class, s::domain);
    }

    @Test
    void aCheckpointedV2StreamIsRefused() throws Exception {
        byte[] in = synth(SynthOptions.Format.V2_LIBXC, 2);
        ToolstackDestinationStream s = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.V2, new Recording(), shape(), () -> { });
        StreamException e = assertThrows(StreamException.class, () -> feed(s, in, 1 << 16));
        assertTrue(e.getMessage().contains("checkpointed streams are not accepted"), e.getMessage());
    }

    @Test
    void aCheckpointedLegacyStreamEndsAfterItsFirstCheckpointAndTheRestIsLeftOver() throws Exception {
        // a legacy stream does not say it is checkpointed until its second checkpoint: the first one is a whole
        // stream, and the incoming loop refuses the bytes that follow ("after the end of the save stream")
        byte[] in = synth(SynthOptions.Format.LEGACY, 2);
        ToolstackDestinationStream s = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.LEGACY, new Recording(), shape(), () -> { });
        int left = feed(s, in, in.length);
        assertTrue(s.complete());
        assertTrue(left > 0, "the second checkpoint is not consumed");
        assertEquals(in.length - left, s.offset());
    }

    @Test
    void aPfnBeyondTheOfferIsRefusedBeforeTheToolstackSeesIt() throws Exception {
        byte[] in = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, PAGES * 2).withFormat(SynthOptions.Format.V2_LIBXC));
        Recording libxl = new Recording();
        ToolstackDestinationStream s = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.V2, libxl, shape(), () -> { });
        assertThrows(StreamException.class, () -> feed(s, in, in.length));
        assertTrue(libxl.bytes.size() < in.length, "the record with the bad PFN is not passed on");
    }

    @ParameterizedTest
    @EnumSource(value = SynthOptions.Format.class, names = {"LEGACY", "V2_LIBXC"})
    void theToolstacksFailureReachesTheFeederAsItsOwnError(SynthOptions.Format f) throws Exception {
        byte[] in = synth(f, 1);
        Recording libxl = new Recording();
        libxl.failAfter = 10_000;
        ToolstackDestinationStream s = ToolstackDestinationStream.of(formatOf(f), libxl, shape(), () -> { });
        HypervisorException e = assertThrows(HypervisorException.class, () -> feed(s, in, 4096));
        assertTrue(e.getMessage().contains("ERROR_FAIL"), e.getMessage());
    }

    @Test
    void theDomainIsTheToolstacksOnceFinished() throws Exception {
        byte[] in = synth(SynthOptions.Format.V2_LIBXC, 1);
        Domain built = java.lang.reflect.Proxy.newProxyInstance(Domain.class.getClassLoader(), new Class<?>[] {Domain.class},
                (p, m, a) -> { throw new UnsupportedOperationException(m.getName()); }) instanceof Domain d ? d : null;
        Recording libxl = new Recording();
        libxl.result = built;
        ToolstackDestinationStream s = ToolstackDestinationStream.of(MigrationOptions.StreamFormat.V2, libxl, shape(), () -> { });
        feed(s, in, in.length);
        s.completeRestore();
        assertSame(built, s.domain());
    }
}
