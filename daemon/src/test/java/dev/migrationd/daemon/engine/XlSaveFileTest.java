package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.file.FilePolicy;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveRestore;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.daemon.engine.simhost.SimHost;
import dev.migrationd.daemon.engine.stream.DestinationStream;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.XlSaveHeader;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthOptions;
import dev.migrationd.protocol.testing.XenTools;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.V2Format;
import dev.migrationd.protocol.v2.V2Item;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * xl's save-file layout both ways: {@code save --xl} writes what {@code xl save} writes (xl's header with the
 * domain's libxl configuration, then a libxl v2 stream Xen's verifier accepts), and {@code restore} of an xl file
 * (ours, or one whose header is written here byte by byte from xl's description) hands its configuration and its
 * libxl stream, unchanged, to the host's toolstack, as a migration's destination does. The toolstack here is
 * {@link LibxlHost}: the sim host with a libxl stand-in that checks the stream is one whole libxl stream and builds
 * the domain from its libxc part.
 */
class XlSaveFileTest {

    @TempDir
    Path dir;

    private EnginePair pair;
    private LibxlHost libxl;
    private FilePolicy policy;

    @BeforeEach
    void setUp() throws Exception {
        pair = new EnginePair(dir);
        libxl = new LibxlHost(pair.b.hv);
        policy = new FilePolicy(dir.resolve("state-nowhere"), List.of());
    }

    @AfterEach
    void tearDown() throws Exception {
        pair.close();
    }

    /**
     * The sim host with a toolstack that builds a domain from a libxl v2 stream (Xen: libxl's
     * libxl_domain_create_restore): it keeps the configuration and the bytes it was given, checks they are one
     * whole libxl stream (header, LIBXC_CONTEXT, the libxc stream, END and nothing else), and builds the guest of
     * {@link #shape} from the libxc part, paused.
     */
    static final class LibxlHost implements Hypervisor {
        final SimHost sim;
        DomainShape shape;
        /** Whether the domain is built from the stream's libxc part; else it is left empty (streams the sim cannot take). */
        boolean buildFromStream = true;
        String config;
        String name;
        UUID uuid;
        final ByteArrayOutputStream stream = new ByteArrayOutputStream();
        String aborted;
        Domain built;

        LibxlHost(SimHost sim) {
            this.sim = sim;
        }

        @Override
        public String backend() {
            return "sim+libxl";
        }

        @Override
        public Set<Capability> capabilities() {
            Set<Capability> c = EnumSet.copyOf(sim.capabilities());
            c.add(Capability.STREAM_RESTORE);
            return c;
        }

        @Override
        public List<DomainInfo> listDomains() throws HypervisorException {
            return sim.listDomains();
        }

        @Override
        public Optional<Domain> findDomain(String n) throws HypervisorException {
            return sim.findDomain(n);
        }

        @Override
        public Optional<Domain> findDomain(int domid) throws HypervisorException {
            return sim.findDomain(domid);
        }

        @Override
        public Domain createForRestore(DomainShape s) throws HypervisorException {
            return sim.createForRestore(s);
        }

        @Override
        public OptionalLong freeSpaceForRestore() {
            return OptionalLong.empty();
        }

        @Override
        public StreamRestore restoreFromStream(String n, UUID u, ToolstackConfig c) {
            this.name = n;
            this.uuid = u;
            this.config = c.json();
            return new StreamRestore() {
                @Override
                public void write(ByteBuffer bytes) {
                    byte[] a = new byte[bytes.remaining()];
                    bytes.get(a);
                    stream.writeBytes(a);
                }

                @Override
                public Domain finish(Duration timeout) throws HypervisorException {
                    byte[] all = stream.toByteArray();
                    List<V2Item> libxlItems = new ArrayList<>();
                    try {
                        LibxlReader r = new LibxlReader(StreamLimits.DEFAULT, i -> {
                            if (i instanceof dev.migrationd.protocol.v2.LibxlItem) {
                                libxlItems.add(i);
                            }
                        }, null);
                        ByteBuffer b = ByteBuffer.wrap(all);
                        r.feed(b);
                        r.finish();
                        if (!r.isDone() || b.hasRemaining()) {
                            throw new HypervisorException("libxl_domain_create_restore", n, "not one whole libxl stream");
                        }
                    } catch (dev.migrationd.protocol.StreamException e) {
                        throw new HypervisorException("libxl_domain_create_restore", n, e.getMessage());
                    }
                    if (!libxlItems.equals(List.of(new LibxlHeader(false), LibxlSignalRecord.LIBXC_CONTEXT,
                            LibxlSignalRecord.END))) {
                        throw new HypervisorException("libxl_domain_create_restore", n, "libxl records " + libxlItems);
                    }
                    // the libxc stream: after the libxl header and the empty LIBXC_CONTEXT record, before END
                    byte[] libxc = Arrays.copyOfRange(all, V2Format.LIBXL_HDR_SIZE + 8, all.length - 8);
                    Domain d = sim.createForRestore(shape.withName(n));
                    if (!buildFromStream) {
                        built = d;
                        return d;
                    }
                    try {
                        DestinationStream in = DestinationStream.of(MigrationOptions.StreamFormat.V2, d, shape, () -> { });
                        in.feed(ByteBuffer.wrap(libxc));
                        in.finish();
                        in.completeRestore();
                    } catch (dev.migrationd.protocol.StreamException e) {
                        d.destroy();
                        throw new HypervisorException("libxl_domain_create_restore", n, e.getMessage());
                    }
                    built = d;
                    return d;
                }

                @Override
                public void abort(String reason) throws HypervisorException {
                    aborted = reason;
                    if (built != null) {
                        built.destroy();
                        built = null;
                    }
                }

                @Override
                public void close() throws HypervisorException {
                    if (built == null) {
                        abort("closed");
                    }
                }
            };
        }

        @Override
        public void close() {
        }
    }

    private static final String PV_CONFIG = "{\n    \"c_info\": {\n        \"type\": \"pv\",\n        \"name\": \"vm1\",\n"
            + "        \"uuid\": \"%s\"\n    },\n    \"b_info\": {\n        \"max_vcpus\": 2\n    }\n}\n";

    private SimGuest pvGuest(boolean withLibxlConfig) throws Exception {
        SimGuest g = pair.guest("vm1", GuestType.PV, 512);
        g.hashOnPause(true);
        if (withLibxlConfig) {
            g.toolstackConfig = new ToolstackConfig(String.format(PV_CONFIG, g.uuid()));
        }
        return g;
    }

    private static XlSaveHeader header(Path file) throws Exception {
        return XlSaveHeader.read(new ByteArrayInputStream(Files.readAllBytes(file)));
    }

    @Test
    void saveXlWritesXlsHeaderWithTheDomainsLibxlConfigThenALibxlStreamXensVerifierAccepts() throws Exception {
        SimGuest src = pvGuest(true);
        Path file = dir.resolve("vm1.xl");
        SaveResult saved = pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2, false, false,
                false, 0, true));
        assertEquals(Files.size(file), saved.bytes());
        assertTrue(src.destroyed());

        XlSaveHeader h = header(file);
        assertEquals(3, h.mandatoryFlags(), "JSON | STREAMv2, as xl save writes them");
        assertEquals(0, h.optionalFlags());
        assertEquals(String.format(PV_CONFIG, src.uuid()), h.configText(), "the domain's own libxl configuration");
        assertEquals(0, h.config()[h.config().length - 1], "with the NUL xl writes after it");

        XenTools xen = XenTools.require();
        XenTools.Result whole = xen.verifyV2(file, "xl");
        assertTrue(whole.ok(), whole.output());
        Path libxlOnly = dir.resolve("vm1.libxl");
        byte[] all = Files.readAllBytes(file);
        Files.write(libxlOnly, Arrays.copyOfRange(all, (int) h.length(), all.length));
        XenTools.Result inner = xen.verifyV2(libxlOnly, "libxl");
        assertTrue(inner.ok(), inner.output());
    }

    @Test
    void aDomainWithoutALibxlConfigGetsAMinimalOneFromWhatTheHypervisorKnows() throws Exception {
        SimGuest src = pvGuest(false);
        Path file = dir.resolve("vm1.xl");
        pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2, false, true, false, 0, true));
        String json = header(file).configText();
        ToolstackConfig c = new ToolstackConfig(json);
        assertEquals(Optional.of("pv"), c.string("c_info", "type"));
        assertEquals(Optional.of("vm1"), c.string("c_info", "name"));
        assertEquals(Optional.of(src.uuid().toString()), c.string("c_info", "uuid"));
        assertTrue(json.contains("\"max_vcpus\": 2"), json);
        assertTrue(src.running(), "--keep-running");
    }

    @Test
    void anXlSaveFileRoundTripsThroughTheToolstackWithItsStreamPassedOnUnchanged() throws Exception {
        SimGuest src = pvGuest(true);
        Path file = dir.resolve("vm1.xl");
        pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2, false, false, false, 0, true));
        libxl.shape = new DomainShape("vm1", src.uuid(), 512, 2, GuestType.PV, Width.W64);
        Files.delete(SaveRestore.metaFile(file)); // an xl file needs nothing beside it

        RestoreResult r = SaveRestore.restore(libxl, Ticker.SYSTEM, new RestoreRequest(file, "vm1", false), policy);
        byte[] all = Files.readAllBytes(file);
        XlSaveHeader h = header(file);
        assertArrayEquals(Arrays.copyOfRange(all, (int) h.length(), all.length), libxl.stream.toByteArray(),
                "the libxl stream in the file, byte for byte");
        assertEquals(h.configText(), libxl.config);
        assertEquals(src.uuid(), libxl.uuid, "the UUID of the configuration, for the running-copy check");
        assertEquals(all.length, r.bytes());
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertTrue(dst.running());
        assertEquals(src.atPause(), dst.atStart(), "the guest continues from what was saved");
    }

    /** An xl header written here from xl's description, then {@code stream}. */
    private static byte[] handWrittenXlFile(int mandatory, byte[] config, byte[] stream) {
        ByteBuffer b = ByteBuffer.allocate(48 + 4 + config.length + stream.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1));
        b.putInt(0x01020304).putInt(mandatory).putInt(0).putInt(4 + config.length).putInt(config.length).put(config)
                .put(stream);
        return b.array();
    }

    private static final String CONFIG = "{\"c_info\": {\"type\": \"pvh\", \"name\": \"g\", \"uuid\": "
            + "\"6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101\"}}\n\0";

    @Test
    void anXlFileWrittenElsewhereIsPassedToTheToolstackWithItsOwnConfiguration() throws Exception {
        byte[] stream = StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        Path file = dir.resolve("g.xl");
        Files.write(file, handWrittenXlFile(3, CONFIG.getBytes(StandardCharsets.UTF_8), stream));
        libxl.shape = new DomainShape("g", UUID.fromString("6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101"), 64, 1, GuestType.HVM,
                Width.W64);
        // the synthesised stream carries an emulator record, which the libxl stand-in refuses: what matters here is
        // what reached it, and that nothing is left when the toolstack fails
        EngineException e = assertThrows(EngineException.class, () -> SaveRestore.restore(libxl, Ticker.SYSTEM,
                new RestoreRequest(file, "g", true), policy));
        assertTrue(e.getMessage().contains("libxl records"), e.getMessage());
        assertArrayEquals(stream, libxl.stream.toByteArray(), "the stream after the header, unchanged");
        assertEquals(CONFIG.substring(0, CONFIG.length() - 1), libxl.config, "the header's configuration, without its NUL");
        assertEquals(UUID.fromString("6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101"), libxl.uuid);
        assertTrue(libxl.aborted != null, "the toolstack's build was aborted");
        assertTrue(pair.b.hv.guest("g").isEmpty(), "nothing left");
    }

    @Test
    void aHandWrittenXlFileOfAPvGuestIsBuiltByTheToolstackAndRuns() throws Exception {
        SynthOptions o = SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL);
        byte[] stream = StreamSynth.toBytes(o);
        String config = CONFIG.replace("\"pvh\"", "\"pv\"");
        Path file = dir.resolve("g.xl");
        Files.write(file, handWrittenXlFile(3, config.getBytes(StandardCharsets.UTF_8), stream));
        libxl.shape = new DomainShape("g", UUID.fromString("6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101"), 64, o.vcpus(),
                GuestType.PV, Width.W64);
        libxl.buildFromStream = false; // the synthesised vCPU state is not one the sim takes; the stream is what matters
        RestoreResult r = SaveRestore.restore(libxl, Ticker.SYSTEM, new RestoreRequest(file, "g", false), policy);
        assertEquals(Files.size(file), r.bytes());
        assertArrayEquals(stream, libxl.stream.toByteArray());
        assertTrue(pair.b.hv.guest("g").orElseThrow().running());
    }

    @Test
    void theEnginesRestoreOperationTakesAnXlFileOnAHostWithLibxl() throws Exception {
        SimGuest src = pvGuest(true);
        Path file = dir.resolve("vm1.xl");
        pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2, false, false, false, 0, true));
        Files.delete(SaveRestore.metaFile(file));
        libxl.shape = new DomainShape("vm1", src.uuid(), 512, 2, GuestType.PV, Width.W64);
        Files.createDirectories(dir.resolve("state-l"));
        try (MigrationEngine engine = new MigrationEngine(EngineConfig.of("hostL", libxl, dir.resolve("state-l"),
                pair.b.engine.config().peers()))) {
            var h = engine.startRestore(new RestoreRequest(file, "vm1", false), "op-xl", null);
            var r = h.result().get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(dev.migrationd.daemon.engine.run.MigrationResult.Outcome.SUCCEEDED, r.outcome(), String.valueOf(r));
            assertEquals(GuestType.PV, engine.list().stream().filter(m -> m.info().id().equals("op-xl")).findFirst()
                    .orElseThrow().info().guestType(), "the guest type from the xl file's configuration");
        }
        assertTrue(pair.b.hv.guest("vm1").orElseThrow().running());
    }

    @Test
    void withoutAToolstackAnXlFileIsRefusedByNameAndNothingIsBuilt() throws Exception {
        byte[] stream = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        Path file = dir.resolve("g.xl");
        Files.write(file, handWrittenXlFile(3, CONFIG.getBytes(StandardCharsets.UTF_8), stream));
        EngineException e = assertThrows(EngineException.class,
                () -> pair.b.engine.restore(new RestoreRequest(file, "g", false)));
        assertEquals(EngineException.Kind.FAILED_PRECONDITION, e.kind());
        assertTrue(e.getMessage().contains("is an xl save file") && e.getMessage().contains("no libxl"), e.getMessage());
        assertTrue(pair.b.hv.names().isEmpty());
    }

    @Test
    void damagedOrUnusableXlHeadersAreRefusedBeforeTheToolstackStarts() throws Exception {
        byte[] stream = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        byte[] good = handWrittenXlFile(3, CONFIG.getBytes(StandardCharsets.UTF_8), stream);
        record Case(String name, byte[] file, String expected) {
        }
        byte[] bigEndian = good.clone();
        ByteBuffer.wrap(bigEndian).order(ByteOrder.BIG_ENDIAN).putInt(32, 0x01020304);
        byte[] unknownFlag = good.clone();
        ByteBuffer.wrap(unknownFlag).order(ByteOrder.LITTLE_ENDIAN).putInt(36, 0x13);
        byte[] hugeOptional = good.clone();
        ByteBuffer.wrap(hugeOptional).order(ByteOrder.LITTLE_ENDIAN).putInt(44, 0x7FFF_FFFF);
        byte[] configTooLong = good.clone();
        ByteBuffer.wrap(configTooLong).order(ByteOrder.LITTLE_ENDIAN).putInt(48, CONFIG.length() + 1);
        byte[] cfgText = handWrittenXlFile(2, "name = \"g\"\nmemory = 128\n".getBytes(StandardCharsets.US_ASCII), stream);
        ByteBuffer noOptionalData = ByteBuffer.allocate(48 + stream.length).order(ByteOrder.LITTLE_ENDIAN);
        noOptionalData.put("Xen saved domain, xl format\n \0 \r".getBytes(StandardCharsets.ISO_8859_1))
                .putInt(0x01020304).putInt(2).putInt(0).putInt(0).put(stream);
        byte[] noConfigFile = noOptionalData.array();
        byte[] emptyConfig = handWrittenXlFile(3, new byte[0], stream);
        byte[] badJson = handWrittenXlFile(3, "{\"c_info\": {\0".getBytes(StandardCharsets.US_ASCII), stream);
        for (Case c : List.of(
                new Case("big-endian", bigEndian, "big-endian"),
                new Case("unknown mandatory flag", unknownFlag, "bit(s) 0x10"),
                new Case("huge optional data", hugeOptional, "optional_data_len 2147483647 exceeds the limit"),
                new Case("config_len beyond optional data", configTooLong, "config_len " + (CONFIG.length() + 1) + " exceeds"),
                new Case("xl config text", cfgText, "xl's config-file syntax"),
                new Case("no configuration", noConfigFile, "without the domain's configuration"),
                new Case("empty configuration", emptyConfig, "without the domain's configuration"),
                new Case("unbalanced JSON", badJson, "ends inside"))) {
            Path file = dir.resolve("bad.xl");
            Files.write(file, c.file());
            libxl.config = null;
            EngineException e = assertThrows(EngineException.class,
                    () -> SaveRestore.restore(libxl, Ticker.SYSTEM, new RestoreRequest(file, "g", false), policy), c.name());
            assertEquals(EngineException.Kind.INVALID_ARGUMENT, e.kind(), c.name() + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(c.expected()), c.name() + ": " + e.getMessage());
            assertNull(libxl.config, c.name() + ": the toolstack never started");
            assertTrue(pair.b.hv.names().isEmpty(), c.name());
        }
    }

    @Test
    void newUuidCannotBeHonouredForAnXlFile() throws Exception {
        byte[] stream = StreamSynth.toBytes(SynthOptions.of(GuestType.PV, 64).withFormat(SynthOptions.Format.V2_LIBXL));
        Path file = dir.resolve("g.xl");
        Files.write(file, handWrittenXlFile(3, CONFIG.getBytes(StandardCharsets.UTF_8), stream));
        EngineException e = assertThrows(EngineException.class, () -> SaveRestore.restore(libxl, Ticker.SYSTEM,
                new RestoreRequest(file, "g", false, true), policy));
        assertTrue(e.getMessage().contains("--new-uuid"), e.getMessage());
        assertNull(libxl.config);
    }

    @Test
    void anXlSaveOfAnHvmGuestIsRefusedAndTheGuestRunsOnWithNoFile() throws Exception {
        SimGuest g = pair.guest("vm1", GuestType.HVM, 256);
        Path file = dir.resolve("vm1.xl");
        EngineException e = assertThrows(EngineException.class, () -> pair.a.engine.save(new SaveRequest("vm1", file,
                MigrationOptions.StreamFormat.V2, false, false, false, 0, true)));
        assertTrue(e.getMessage().contains("device model"), e.getMessage());
        assertTrue(g.running());
        assertFalse(Files.exists(file));
        assertThrows(IllegalArgumentException.class, () -> new SaveRequest("vm1", file, MigrationOptions.StreamFormat.LEGACY,
                false, false, false, 0, true), "an xl file holds a v2 stream");
    }

    @Test
    void aSavedLibxlConfigurationHasTheToolstackRebuildTheDomainFromOurOwnFile() throws Exception {
        SimGuest src = pvGuest(true);
        Path file = dir.resolve("vm1.save");
        pair.a.engine.save(new SaveRequest("vm1", file, MigrationOptions.StreamFormat.V2, false, false, false));
        assertTrue(Files.readString(SaveRestore.metaFile(file)).contains("toolstackConfig="), "kept beside the file");
        libxl.shape = new DomainShape("vm1", src.uuid(), 512, 2, GuestType.PV, Width.W64);

        SaveRestore.restore(libxl, Ticker.SYSTEM, new RestoreRequest(file, "vm1", false), policy);
        assertEquals(String.format(PV_CONFIG, src.uuid()), libxl.config, "built by libxl from the saved configuration");
        SimGuest dst = pair.b.hv.guest("vm1").orElseThrow();
        assertEquals(src.atPause(), dst.atStart());

        // on a host without libxl the engine builds it, as before
        dst.destroy();
        pair.b.engine.restore(new RestoreRequest(file, "vm1", true));
        assertTrue(pair.b.hv.guest("vm1").isPresent());
    }
}
