package dev.migrationd.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.CancelMigrationResponse;
import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DestroyDomainRequest;
import dev.migrationd.control.v1.DestroyDomainResponse;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.InspectDomainRequest;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListDomainsResponse;
import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.ListMigrationsResponse;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.RestoreDomainRequest;
import dev.migrationd.control.v1.RestoreDomainResponse;
import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.SaveDomainResponse;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.synth.StreamSynth;
import dev.migrationd.protocol.synth.SynthOptions;
import dev.migrationd.protocol.verify.StreamVerifier;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The global options ({@code --daemon}, {@code --format}) work before and after the subcommand, and between a
 * command group and its subcommand, for every command family: the daemon commands against a daemon served in
 * this JVM on a loopback port (it answers each call and records which it got), the stream tools on a file.
 */
class GlobalOptionsTest {

    /** The calls the daemon received, by RPC name; written by gRPC's threads. */
    static final List<String> CALLS = new CopyOnWriteArrayList<>();
    static Server daemon;
    static String address;

    @TempDir
    static Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = MigrationCtl.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    /** A daemon that answers every call the daemon commands make with a small plausible reply. */
    static final class Daemon extends MigrationServiceGrpc.MigrationServiceImplBase {
        private static final Migration MIGRATION = Migration.newBuilder().setId("m-1").setDomain("dom7")
                .setSourceHost("hostA").setDestinationHost("hostB").build();
        private static final Domain DOMAIN = Domain.newBuilder().setName("dom7").setMemoryBytes(1 << 30).setVcpus(1)
                .build();

        private static <T> void reply(String call, StreamObserver<T> o, T value) {
            CALLS.add(call);
            o.onNext(value);
            o.onCompleted();
        }

        @Override
        public void startMigration(StartMigrationRequest r, StreamObserver<StartMigrationResponse> o) {
            reply("StartMigration", o, StartMigrationResponse.newBuilder().setMigration(MIGRATION).setCreated(true).build());
        }

        @Override
        public void getMigration(GetMigrationRequest r, StreamObserver<Migration> o) {
            reply("GetMigration", o, MIGRATION);
        }

        @Override
        public void cancelMigration(CancelMigrationRequest r, StreamObserver<CancelMigrationResponse> o) {
            reply("CancelMigration", o, CancelMigrationResponse.newBuilder().setMigration(MIGRATION).build());
        }

        @Override
        public void resolveMigration(dev.migrationd.control.v1.ResolveMigrationRequest r,
                                     StreamObserver<dev.migrationd.control.v1.ResolveMigrationResponse> o) {
            reply("ResolveMigration:" + r.getDecision(), o, dev.migrationd.control.v1.ResolveMigrationResponse.newBuilder()
                    .setMigration(MIGRATION).setPeerAnswer("unknown").setDecidedBy("operator").build());
        }

        @Override
        public void listMigrations(ListMigrationsRequest r, StreamObserver<ListMigrationsResponse> o) {
            reply("ListMigrations", o, ListMigrationsResponse.newBuilder().addMigrations(MIGRATION).build());
        }

        @Override
        public void listDomains(ListDomainsRequest r, StreamObserver<ListDomainsResponse> o) {
            reply("ListDomains", o, ListDomainsResponse.newBuilder().setHost("hostA").setBackend("sim")
                    .addDomains(DOMAIN).build());
        }

        @Override
        public void createDomain(CreateDomainRequest r, StreamObserver<Domain> o) {
            reply("CreateDomain", o, DOMAIN);
        }

        @Override
        public void destroyDomain(DestroyDomainRequest r, StreamObserver<DestroyDomainResponse> o) {
            reply("DestroyDomain", o, DestroyDomainResponse.getDefaultInstance());
        }

        @Override
        public void inspectDomain(InspectDomainRequest r, StreamObserver<DomainDetails> o) {
            reply("InspectDomain", o, DomainDetails.newBuilder().setDomain(DOMAIN).build());
        }

        @Override
        public void startSave(SaveDomainRequest r, StreamObserver<StartMigrationResponse> o) {
            lastSave = r;
            reply("StartSave", o, StartMigrationResponse.newBuilder().setCreated(true).setMigration(Migration.newBuilder()
                    .setId("s-1").setDomain(r.getDomain()).setSourceHost("hostA").setFile(r.getPath())
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_SAVE)).build());
        }

        @Override
        public void startRestore(RestoreDomainRequest r, StreamObserver<StartMigrationResponse> o) {
            reply("StartRestore", o, StartMigrationResponse.newBuilder().setCreated(true).setMigration(Migration.newBuilder()
                    .setId("r-1").setDomain(r.getName()).setDestinationHost("hostA").setFile(r.getPath())
                    .setDirection(dev.migrationd.control.v1.Direction.DIRECTION_RESTORE)).build());
        }

        @Override
        public void saveDomain(SaveDomainRequest r, StreamObserver<SaveDomainResponse> o) {
            reply("SaveDomain", o, SaveDomainResponse.newBuilder().setPath(r.getPath()).build());
        }

        @Override
        public void restoreDomain(RestoreDomainRequest r, StreamObserver<RestoreDomainResponse> o) {
            reply("RestoreDomain", o, RestoreDomainResponse.newBuilder().setDomain(DOMAIN).build());
        }
    }

    @BeforeAll
    static void startDaemon() throws Exception {
        daemon = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Daemon()).build()
                .start();
        address = "127.0.0.1:" + daemon.getPort();
    }

    @AfterAll
    static void stopDaemon() throws InterruptedException {
        daemon.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    /**
     * Every placement of the global options around {@code command} (its words, e.g. {@code domain create}) and its
     * own arguments: all before, all after, between the words of a nested command, and split.
     */
    static List<List<String>> placements(List<String> command, List<String> rest, List<String> global) {
        List<List<String>> all = new ArrayList<>();
        all.add(concat(global, command, rest));
        all.add(concat(command, rest, global));
        if (command.size() > 1) {
            all.add(concat(command.subList(0, 1), global, command.subList(1, command.size()), rest));
        }
        all.add(concat(global.subList(0, 2), command, rest, global.subList(2, global.size())));
        all.add(concat(global.subList(2, global.size()), command, rest, global.subList(0, 2)));
        return all;
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        return Stream.of(parts).flatMap(List::stream).toList();
    }

    /** Runs every placement against the daemon: each must reach it with {@code call} and print JSON. */
    private static void reachesTheDaemonWherever(String call, List<String> command, List<String> rest) {
        for (List<String> args : placements(command, rest, List.of("--daemon", address, "--format", "json"))) {
            CALLS.clear();
            Result r = run(args.toArray(String[]::new));
            assertEquals(0, r.code(), args + ": " + r.err());
            assertEquals(List.of(call), CALLS, args + ": the daemon named by --daemon got the call");
            assertTrue(r.out().startsWith("{"), args + ": --format json gives JSON, got: " + r.out());
        }
        // and the same command without --format prints text: the option above was not a default
        CALLS.clear();
        Result text = run(concat(List.of("--daemon", address), command, rest).toArray(String[]::new));
        assertEquals(0, text.code(), text.err());
        assertTrue(!text.out().startsWith("{"), "text by default: " + text.out());
    }

    static Stream<Arguments> migrationCommands() {
        return Stream.of(
                Arguments.of("ListMigrations", List.of("list"), List.of("--limit", "5")),
                Arguments.of("GetMigration", List.of("status"), List.of("m-1")),
                Arguments.of("CancelMigration", List.of("cancel"), List.of("m-1")),
                Arguments.of("ResolveMigration:RESOLVE_DECISION_RESUME_SOURCE", List.of("resolve"), List.of("m-1", "--resume-source")),
                Arguments.of("ResolveMigration:RESOLVE_DECISION_CONFIRM_DESTINATION", List.of("resolve"),
                        List.of("m-1", "--confirm-destination")),
                Arguments.of("StartMigration", List.of("migrate"), List.of("dom7", "--to", "hostB", "--detach")));
    }

    @ParameterizedTest
    @MethodSource("migrationCommands")
    void migrationCommandsTakeGlobalOptionsBeforeAndAfter(String call, List<String> command, List<String> rest) {
        reachesTheDaemonWherever(call, command, rest);
    }

    static Stream<Arguments> domainCommands() {
        return Stream.of(
                Arguments.of("ListDomains", List.of("domains"), List.of()),
                Arguments.of("CreateDomain", List.of("domain", "create"), List.of("dom7", "--memory", "1GiB")),
                Arguments.of("InspectDomain", List.of("domain", "inspect"), List.of("dom7")),
                Arguments.of("DestroyDomain", List.of("domain", "destroy"), List.of("dom7")));
    }

    @ParameterizedTest
    @MethodSource("domainCommands")
    void domainCommandsTakeGlobalOptionsBeforeAfterAndBetween(String call, List<String> command, List<String> rest) {
        reachesTheDaemonWherever(call, command, rest);
    }

    static Stream<Arguments> fileCommands() {
        return Stream.of(
                Arguments.of("StartSave", List.of("save"), List.of("dom7", "/srv/dom7.save", "--stream-format", "v2", "--detach")),
                Arguments.of("StartRestore", List.of("restore"), List.of("/srv/dom7.save", "--paused", "--detach")));
    }

    @ParameterizedTest
    @MethodSource("fileCommands")
    void saveAndRestoreTakeGlobalOptionsBeforeAndAfter(String call, List<String> command, List<String> rest) {
        reachesTheDaemonWherever(call, command, rest);
    }

    /** The last StartSave request the fake daemon received. */
    static volatile SaveDomainRequest lastSave;

    @Test
    void saveXlAsksForAnXlFileWithAV2StreamAndRefusesTheLegacyFormat() {
        Result r = run("--daemon", address, "save", "dom7", "/srv/dom7.xl", "--xl", "--detach");
        assertEquals(0, r.code(), r.err());
        assertTrue(lastSave.getXlFile());
        assertEquals(dev.migrationd.control.v1.StreamFormat.STREAM_FORMAT_V2, lastSave.getFormat());
        Result plain = run("--daemon", address, "save", "dom7", "/srv/dom7.save", "--detach");
        assertEquals(0, plain.code(), plain.err());
        assertFalse(lastSave.getXlFile());
        Result legacy = run("--daemon", address, "save", "dom7", "/srv/dom7.xl", "--xl", "--stream-format", "legacy");
        assertEquals(ExitCode.USAGE, legacy.code());
        assertTrue(legacy.err().contains("--xl writes a v2 stream"), legacy.err());
    }

    @Test
    void theDaemonGivenBeforeTheSubcommandIsTheOneDialled() {
        Result r = run("--daemon", "127.0.0.1:1", "list");
        assertEquals(ExitCode.UNREACHABLE, r.code(), r.err());
        assertTrue(r.err().contains("cannot reach the daemon at 127.0.0.1:1"), r.err());
        Result bad = run("--daemon", "localhost", "domain", "inspect", "dom7");
        assertEquals(ExitCode.USAGE, bad.code());
        assertTrue(bad.err().contains("expected unix:PATH or HOST:PORT"), bad.err());
    }

    @Test
    void streamToolsTakeGlobalOptionsBeforeAfterAndBetween() throws Exception {
        Path file = Files.write(dir.resolve("hvm.img"), StreamSynth.toBytes(SynthOptions.of(GuestType.HVM, 64)));
        for (String tool : List.of("verify", "inspect")) {
            for (List<String> args : placements(List.of("stream", tool), List.of(file.toString()),
                    List.of("--daemon", address, "--format", "json"))) {
                Result r = run(args.toArray(String[]::new));
                assertEquals(0, r.code(), args + ": " + r.err());
                assertTrue(r.out().startsWith("{") && r.out().contains("\"format\": \"legacy\""), args + ": " + r.out());
                if (tool.equals("verify")) {
                    assertTrue(r.out().contains("\"valid\": true"), r.out());
                }
            }
        }
        long pages = StreamVerifier.verify(file, StreamVerifier.Options.DETECT).pageCount();
        assertEquals(file + ": valid legacy libxc stream, hvm guest, 64-bit toolstack, " + pages + " pages, 1 checkpoint, "
                + Files.size(file) + " bytes\n", run("stream", "verify", file.toString()).out());
        assertTrue(run("stream", "inspect", file.toString()).out().startsWith("format:          legacy"));
    }

    @Test
    void aStreamFormatGivenToFormatIsNamedAsSuch() {
        Path out = dir.resolve("v2.img");
        Result r = run("stream", "synth", out.toString(), "--guest", "hvm", "--width", "64", "--pages", "16",
                "--format", "v2");
        assertEquals(ExitCode.USAGE, r.code());
        assertTrue(r.err().contains("'v2' is a stream format: say --stream-format v2"), r.err());
        Result ok = run("--format", "json", "stream", "synth", out.toString(), "--guest", "hvm", "--width", "64",
                "--pages", "16", "--stream-format", "v2");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(run("stream", "verify", out.toString()).out().contains("valid v2 libxl stream"));
    }
}
