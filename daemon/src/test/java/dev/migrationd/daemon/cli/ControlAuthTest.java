package dev.migrationd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static dev.migrationd.daemon.cli.CliAgainstDaemonsTest.ctl;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.daemon.ControlConfig;
import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.PeerLinkConfig;
import dev.migrationd.daemon.TestCerts;
import dev.migrationd.daemon.cli.CliAgainstDaemonsTest.Result;
import dev.migrationd.daemon.control.UnixAccounts;
import dev.migrationd.daemon.tls.TlsFiles;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control API's access rules against a real daemon in this JVM and the real {@code migrationctl}: on the Unix
 * socket, a process whose user the socket's mode and group leave out cannot connect, and one that can connect
 * gets only its role (run as uid 65534 through {@code setpriv}, in a child JVM); on TCP, mutual TLS without a
 * client certificate is refused, and a certificate's name decides its role.
 */
class ControlAuthTest {

    /** The unprivileged user the child clients run as (Debian's nobody). */
    static final int NOBODY = 65534;

    @TempDir
    static Path dir;

    /** This JVM's class path as files any user can read (hard links, or copies, of the jars in root's home). */
    static String openClassPath;


    @BeforeAll
    static void openDir() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    static Daemon daemon(String name, Map<String, String> extra) throws Exception {
        Map<String, String> flags = new HashMap<>(Map.of(DaemonConfig.KEY_NAME, name,
                DaemonConfig.KEY_STATE_DIR, dir.resolve(name).toString(), DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0",
                DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0", PeerLinkConfig.KEY_INSECURE, "true"));
        flags.putAll(extra);
        return Daemon.start(DaemonConfig.resolve(null, flags, List.of("hostB=127.0.0.1:1"), List.of("hostB=migrate")));
    }

    /** migrationctl ARGS in a child JVM as uid and gid 65534 with no supplementary groups. */
    static Result asNobody(String... args) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "setpriv (util-linux) is needed to run a client as another user");
        assumeTrue(ProcessHandle.current().info().user().orElse("").equals("root"), "only root can start a process as another user");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "--", ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", openClassPath(),
                MigrationCtl.class.getName()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("child.out");
        Path err = dir.resolve("child.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("migrationctl as nobody did not end in 120 s: " + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static synchronized String openClassPath() throws Exception {
        if (openClassPath == null) {
            Path libs = Files.createDirectories(dir.resolve("cp"));
            List<String> entries = new ArrayList<>();
            int i = 0;
            for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                Path p = Path.of(e);
                if (Files.isDirectory(p) || !p.toString().endsWith(".jar") || p.getFileName().toString().contains("jazzer")) {
                    entries.add(e); // build output directories are readable by everyone
                    continue;
                }
                Path link = libs.resolve((i++) + "-" + p.getFileName());
                try {
                    Files.createLink(link, p);
                } catch (java.io.IOException | UnsupportedOperationException notSameFs) {
                    Files.copy(p, link);
                }
                entries.add(link.toString());
            }
            openClassPath = String.join(java.io.File.pathSeparator, entries);
        }
        return openClassPath;
    }

    @Test
    void theSocketGetsItsModeAndGroupAndRootIsAnOperator() throws Exception {
        Path sock = dir.resolve("run-a/control.sock");
        assumeTrue(UnixAccounts.SYSTEM.gid("daemon").isPresent(), "the host has a group named daemon");
        int daemonGid = UnixAccounts.SYSTEM.gid("daemon").getAsInt();
        try (Daemon d = daemon("hostA", Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "unix:" + sock,
                ControlConfig.KEY_SOCKET_MODE, "0660", ControlConfig.KEY_SOCKET_GROUP, "daemon"))) {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock, LinkOption.NOFOLLOW_LINKS)));
            assertEquals(daemonGid, (int) (Integer) Files.getAttribute(sock, "unix:gid", LinkOption.NOFOLLOW_LINKS));
            assertEquals(-1, d.controlPort(), "no TCP control address");
            Result create = ctl("domain", "create", "dom1", "--daemon", "unix:" + sock, "--memory", "16MiB");
            assertEquals(0, create.code(), create.err());
            Result list = ctl("domains", "--daemon", "unix:" + sock, "--format", "json");
            assertTrue(list.out().contains("\"name\":\"dom1\""), list.out());

            // the other user, left out by the file's mode and group: the kernel refuses the connection
            Result refused = asNobody("domains", "--daemon", "unix:" + sock);
            assertEquals(ExitCode.REFUSED, refused.code(), refused.err());
            assertTrue(refused.err().startsWith("migrationctl: permission denied on the control socket " + sock
                    + ": its mode and group decide who may connect"), refused.err());
        }
        assertTrue(!Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the daemon removes its socket when it stops");
    }

    @Test
    void aUserWhoCanConnectGetsOnlyItsRole() throws Exception {
        Path sock = dir.resolve("run-b/control.sock");
        Map<String, String> flags = Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "unix:" + sock,
                ControlConfig.KEY_SOCKET_MODE, "0666", ControlConfig.KEY_READERS, String.valueOf(NOBODY));
        try (Daemon d = daemon("hostC", flags)) {
            assertEquals(0, ctl("domain", "create", "dom7", "--daemon", "unix:" + sock, "--memory", "16MiB").code());
            Result look = asNobody("domains", "--daemon", "unix:" + sock);
            assertEquals(0, look.code(), look.err());
            assertTrue(look.out().contains("dom7"), look.out());

            Result migrate = asNobody("migrate", "dom7", "--to", "hostB", "--daemon", "unix:" + sock);
            assertEquals(ExitCode.REFUSED, migrate.code(), migrate.err());
            assertTrue(migrate.err().matches("(?s)migrationctl: permission denied: StartMigration needs the operator role; "
                    + "uid 65534( \\(\\S+\\))? has the read-only role \\(control-readers\\)\\n"), migrate.err());
            Result destroy = asNobody("domain", "destroy", "dom7", "--daemon", "unix:" + sock);
            assertEquals(ExitCode.REFUSED, destroy.code(), destroy.err());
            assertTrue(destroy.err().contains("DestroyDomain needs the operator role"), destroy.err());
            assertTrue(ctl("domains", "--daemon", "unix:" + sock).out().contains("dom7"), "nothing was destroyed");

            // the roles are reloaded at once: without control-readers, nobody may not even look
            Map<String, String> none = new HashMap<>(flags);
            none.remove(ControlConfig.KEY_READERS);
            none.putAll(Map.of(DaemonConfig.KEY_NAME, "hostC", DaemonConfig.KEY_STATE_DIR, dir.resolve("hostC").toString(),
                    DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0",
                    PeerLinkConfig.KEY_INSECURE, "true"));
            d.reload(DaemonConfig.resolve(null, none, List.of("hostB=127.0.0.1:1"), List.of("hostB=migrate")));
            Result denied = asNobody("domains", "--daemon", "unix:" + sock);
            assertEquals(ExitCode.REFUSED, denied.code(), denied.err());
            assertTrue(denied.err().contains("ListDomains needs the read-only role; uid 65534")
                    && denied.err().contains("has no role (not in control-operators or control-readers)"), denied.err());
        }
    }

    @Test
    void tcpTakesMutualTlsAndTheCertificateNameDecidesTheRole() throws Exception {
        Path tls = dir.resolve("tls");
        TlsFiles server = TestCerts.host(tls, "hostD");
        TlsFiles ops = TestCerts.host(tls, "ops");
        TlsFiles viewer = TestCerts.host(tls, "viewer");
        TlsFiles stranger = TestCerts.host(tls, "stranger");
        TlsFiles foreign = TestCerts.host(dir.resolve("other-ca"), "ops");
        Map<String, String> flags = new HashMap<>(Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:0",
                ControlConfig.KEY_TLS_CA, server.ca().toString(), ControlConfig.KEY_TLS_CERT, server.cert().toString(),
                ControlConfig.KEY_TLS_KEY, server.key().toString(), ControlConfig.KEY_OPERATORS, "cert:ops",
                ControlConfig.KEY_READERS, "cert:viewer"));
        try (Daemon d = daemon("hostD", flags)) {
            String addr = "127.0.0.1:" + d.controlPort();

            // no client certificate: the handshake fails, nothing is called
            ManagedChannel anonymous = NettyChannelBuilder.forAddress("127.0.0.1", d.controlPort()).overrideAuthority("hostD")
                    .sslContext(GrpcSslContexts.forClient().trustManager(server.ca().toFile()).build()).build();
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> MigrationServiceGrpc
                        .newBlockingStub(anonymous).withDeadlineAfter(20, TimeUnit.SECONDS)
                        .listDomains(ListDomainsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
            } finally {
                anonymous.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            // plaintext to the TLS port: not served either, and the CLI says what may be missing
            Result plain = ctl("domains", "--daemon", addr);
            assertEquals(ExitCode.UNREACHABLE, plain.code(), plain.err());
            assertTrue(plain.err().contains("If it takes mutual TLS there, give --tls-ca, --tls-cert and --tls-key"), plain.err());

            Result created = ctl(withTls(ops, "hostD", "domain", "create", "dom9", "--daemon", addr, "--memory", "16MiB"));
            assertEquals(0, created.code(), created.err());
            Result seen = ctl(withTls(viewer, "hostD", "domains", "--daemon", addr));
            assertEquals(0, seen.code(), seen.err());
            assertTrue(seen.out().contains("dom9"), seen.out());
            Result notAllowed = ctl(withTls(viewer, "hostD", "domain", "destroy", "dom9", "--daemon", addr));
            assertEquals(ExitCode.REFUSED, notAllowed.code(), notAllowed.err());
            assertEquals("migrationctl: permission denied: DestroyDomain needs the operator role; certificate viewer has the "
                    + "read-only role (control-readers)\n", notAllowed.err());
            Result unknown = ctl(withTls(stranger, "hostD", "domains", "--daemon", addr));
            assertEquals(ExitCode.REFUSED, unknown.code(), unknown.err());
            assertTrue(unknown.err().contains("ListDomains needs the read-only role; certificate stranger has no role"),
                    unknown.err());
            Result otherCa = ctl(withTls(new TlsFiles(server.ca(), foreign.cert(), foreign.key()), "hostD", "domains",
                    "--daemon", addr));
            assertEquals(ExitCode.REFUSED, otherCa.code(), otherCa.err());
            assertTrue(otherCa.err().contains("refused the TLS connection"), otherCa.err());
        }
    }

    private static String[] withTls(TlsFiles f, String serverName, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--tls-ca", f.ca().toString(), "--tls-cert", f.cert().toString(), "--tls-key", f.key().toString(),
                "--tls-server-name", serverName));
        return all.toArray(String[]::new);
    }
}
