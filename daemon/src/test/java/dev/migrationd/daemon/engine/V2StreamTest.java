package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.daemon.engine.stream.SourceStream;
import dev.migrationd.daemon.engine.stream.StreamOut;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.testing.XenTools;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxcRecord;
import dev.migrationd.protocol.v2.PageData;
import dev.migrationd.protocol.v2.RecordType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The v2 stream format between engines and in save files; Xen's verify-stream-v2 as the oracle for files. */
class V2StreamTest {

    static final MigrationOptions V2 = MigrationOptions.DEFAULTS.withFormat(MigrationOptions.StreamFormat.V2);

    @TempDir
    Path dir;
    EnginePair pair;

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
    }

    @AfterEach
    void tearDown() {
        pair.close();
    }

    @ParameterizedTest
    @EnumSource(GuestType.class)
    void aV2MigrationMovesTheGuestWithItsMemoryAndState(GuestType type) throws Exception {
        SimGuest src = pair.guest("vm1", type, 4096);
        src.hashOnPause(true);
        src.startWorkload(512, 50);
        MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", V2)).result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
        assertTrue(src.destroyed());
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertEquals(src.atPause(), dst.atStart());
        pair.awaitDestinationIdle();
        assertEquals(r.bytes(), pair.b.engine.list().getFirst().result().orElseThrow().bytes());
    }

    @Test
    void verifyModeWorksInV2() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.PV, 1024);
        src.startWorkload(128, 20);
        MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB",
                V2.withVerify(MigrationOptions.VerifyMode.ON))).result().get(30, TimeUnit.SECONDS);
        assertEquals(MigrationResult.Outcome.SUCCEEDED, r.outcome(), r.reason());
    }

    /** Reads a v2 stream's record types (and checks the engine wrote a well-formed one). */
    static List<RecordType> recordTypes(ByteBuffer stream, long p2m) throws Exception {
        List<RecordType> types = new ArrayList<>();
        LibxcReader reader = new LibxcReader(StreamLimits.DEFAULT.withMaxP2mSize(p2m), (LibxcItem i) -> {
            if (i instanceof LibxcRecord rec) {
                types.add(rec.type());
            }
        }, null);
        reader.feed(stream);
        reader.finish();
        return types;
    }

    @ParameterizedTest
    @EnumSource(GuestType.class)
    void aV2SaveFilePassesXensVerifierAndRestores(GuestType type) throws Exception {
        SimGuest src = pair.guest("vm1", type, 512);
        src.hashOnPause(true);
        src.startWorkload(64, 20);
        Path file = dir.resolve("vm1.v2save");
        SaveResult saved = pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2,
                true, false, false));
        assertEquals(Files.size(file), saved.bytes());

        XenTools.Result ver = XenTools.require().verifyV2(file, "libxc");
        assertTrue(ver.ok(), ver.output());
        List<RecordType> types = recordTypes(ByteBuffer.wrap(Files.readAllBytes(file)), 512);
        List<RecordType> head = type == GuestType.PV
                ? List.of(RecordType.X86_PV_INFO, RecordType.STATIC_DATA_END, RecordType.X86_PV_P2M_FRAMES, RecordType.PAGE_DATA)
                : List.of(RecordType.STATIC_DATA_END, RecordType.PAGE_DATA);
        assertEquals(head, types.subList(0, head.size()), types.toString());
        int tsc = types.indexOf(RecordType.X86_TSC_INFO);
        assertTrue(tsc > 0 && types.lastIndexOf(RecordType.PAGE_DATA) < tsc, "TSC after the final pages: " + types);
        List<RecordType> tail = types.subList(tsc + 1, types.size());
        if (type == GuestType.PV) {
            assertEquals(RecordType.SHARED_INFO, tail.getFirst(), types.toString());
            assertTrue(tail.contains(RecordType.X86_PV_VCPU_BASIC), types.toString());
        } else {
            assertEquals(List.of(RecordType.HVM_PARAMS, RecordType.HVM_CONTEXT, RecordType.END).subList(
                    tail.contains(RecordType.HVM_PARAMS) ? 0 : 1, 3), tail, types.toString());
        }
        assertEquals(RecordType.END, types.getLast());
        assertTrue(Files.readString(SaveRestore.metaFile(file)).contains("format=v2"));

        RestoreResult restored = pair.b.engine.restore(new RestoreRequest(file, "vm1", true));
        assertEquals(saved.bytes(), restored.bytes());
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertEquals(src.atPause(), dst.snapshot(), "restored paused: memory and state as the source's at the pause");
    }

    @Test
    void invalidPfnsAreXtabEntriesWithTheirPfn() throws Exception {
        SimGuest d = pair.guest("vm1", GuestType.HVM, 256);
        Path file = dir.resolve("pages.v2");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            SourceStream w = SourceStream.of(MigrationOptions.StreamFormat.V2, StreamOut.to(ch), d, d.info());
            w.writeHeader();
            // a batch of only invalid PFNs is still written in v2, each with its PFN (legacy drops it)
            assertTrue(w.writePages(new long[] {7, 9}, new dev.migrationd.protocol.PageType[] {
                    dev.migrationd.protocol.PageType.XTAB, dev.migrationd.protocol.PageType.XTAB}, 2, new ByteBuffer[0]));
            assertTrue(w.writePages(new long[] {3, 8}, new dev.migrationd.protocol.PageType[] {
                    dev.migrationd.protocol.PageType.NOTAB, dev.migrationd.protocol.PageType.XTAB}, 2,
                    new ByteBuffer[] {ByteBuffer.allocate(4096)}));
        }
        List<String> entries = new ArrayList<>();
        LibxcReader reader = new LibxcReader(StreamLimits.DEFAULT.withMaxP2mSize(256), (LibxcItem i) -> {
            if (i instanceof PageData pd) {
                for (int k = 0; k < pd.count(); k++) {
                    entries.add(pd.pageType(k) + "@" + pd.pfn(k));
                }
            }
        }, null);
        reader.feed(ByteBuffer.wrap(Files.readAllBytes(file)));
        assertEquals(List.of("XTAB@7", "XTAB@9", "NOTAB@3", "XTAB@8"), entries);
    }

    @Test
    void theDestinationRejectsAPfnBeyondTheOffersP2mSize() throws Exception {
        SimGuest src = pair.guest("vm1", GuestType.HVM, 4096);
        src.startWorkload(1024, 200);
        AtomicBoolean injected = new AtomicBoolean();
        pair.wrapA = c -> new EnginePair.Wrapped(c) {
            @Override
            public void sendStream(ByteBuffer data) throws IOException {
                // the first PAGE_DATA record header: rewrite its first PFN to 0x1000 (= p2m size, out of range)
                ByteBuffer d = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                if (!injected.get() && d.remaining() >= 24 && d.getInt(d.position()) == RecordType.PAGE_DATA.code()) {
                    ByteBuffer copy = ByteBuffer.allocate(d.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                    copy.put(d.duplicate()).flip();
                    copy.putLong(16, 0x1000);
                    injected.set(true);
                    super.sendStream(copy);
                    return;
                }
                super.sendStream(data);
            }
        };
        MigrationResult r = pair.a.engine.start(MigrationRequest.of("vm1", "hostB", V2)).result().get(30, TimeUnit.SECONDS);
        assertTrue(injected.get(), "the test found the PAGE_DATA header");
        assertEquals(MigrationResult.Outcome.FAILED, r.outcome());
        pair.awaitDestinationIdle();
        String destReason = pair.b.engine.list().getFirst().reason();
        assertTrue(destReason.contains("0x1000"), destReason);
        assertTrue(r.reason().contains("destination failed"), r.reason());
        assertTrue(src.running());
        assertFalse(pair.b.hv.names().contains("vm1"));
    }
}
