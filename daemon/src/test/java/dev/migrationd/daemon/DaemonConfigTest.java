package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonConfigTest {

    @TempDir
    Path dir;

    private Path file(String text) throws Exception {
        Path f = dir.resolve("migrationd.conf");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void fileThenFlagsWithFlagsWinning() throws Exception {
        Path f = file("""
                # comment
                name = hostA
                backend = sim   # trailing comment
                state-dir = /var/lib/a
                control-listen = 127.0.0.1:7100
                peer-listen = 127.0.0.1:7101
                metrics-listen = 127.0.0.1:9101
                peer.hostB = 127.0.0.1:7201
                peer.hostC = [::1]:7301
                """);
        Map<String, String> flags = new HashMap<>();
        flags.put(DaemonConfig.KEY_CONTROL_LISTEN, "127.0.0.1:7999");
        flags.put(PeerLinkConfig.KEY_INSECURE, "true");
        DaemonConfig c = DaemonConfig.resolve(f, flags, List.of("hostB=127.0.0.1:7202", "hostD=localhost:7401"));
        assertEquals("hostA", c.name());
        assertEquals("sim", c.backend());
        assertEquals(Path.of("/var/lib/a"), c.stateDir());
        assertEquals(List.of(new InetSocketAddress("127.0.0.1", 7999)), c.control().tcp());
        assertEquals(7101, c.peerListen().getPort());
        assertEquals(9101, c.metricsListen().getPort());
        assertEquals(List.of("hostB", "hostC", "hostD"), List.copyOf(c.peers().keySet()));
        assertEquals(7202, c.peers().get("hostB").getPort());
        assertEquals(new InetSocketAddress("::1", 7301), c.peers().get("hostC"));
    }

    /** The explicit plaintext choice, for tests of the other settings. */
    private static final Map<String, String> INSECURE = Map.of(PeerLinkConfig.KEY_INSECURE, "true");

    @Test
    void defaultsWithoutAFile() throws Exception {
        DaemonConfig c = DaemonConfig.resolve(null, INSECURE, List.of());
        assertEquals("sim", c.backend());
        assertEquals(List.of(new ControlConfig.Address.Unix(Path.of("/run/migrationd/control.sock"))), c.control().listen());
        assertEquals(Path.of(DaemonConfig.DEFAULT_STATE_DIR), c.stateDir());
        assertTrue(c.peers().isEmpty());
    }

    @Test
    void ownNameInAFleetPeerListIsSkipped() throws Exception {
        DaemonConfig c = DaemonConfig.resolve(file("name = hostA\npeer.hostA = 10.0.0.1:7101\npeer.hostB = 10.0.0.2:7101\n"),
                INSECURE, List.of());
        assertEquals(List.of("hostB"), List.copyOf(c.peers().keySet()));
    }

    /** A bad setting is named, whatever the peer link (the insecure choice keeps TLS material out of the way). */
    private void assertBad(String expectedPart, Path file, Map<String, String> flags, List<String> peers) {
        Map<String, String> withLink = new java.util.HashMap<>(flags);
        withLink.putIfAbsent(PeerLinkConfig.KEY_INSECURE, "true");
        ConfigException e = assertThrows(ConfigException.class, () -> DaemonConfig.resolve(file, withLink, peers));
        assertTrue(e.getMessage().contains(expectedPart), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void badConfigsGetOneLineNamingTheProblem() throws Exception {
        assertBad("line 2: unknown key 'colour'", file("name = a\ncolour = blue\n"), Map.of(), List.of());
        assertBad("line 1: expected 'key = value'", file("just words\n"), Map.of(), List.of());
        assertBad("'name' is given twice", file("name = a\nname = b\n"), Map.of(), List.of());
        assertBad("peer 'b' is given twice", file("peer.b = 1.2.3.4:1\npeer.b = 1.2.3.4:2\n"), Map.of(), List.of());
        assertBad("expected HOST:PORT", file("peer-listen = 7101\n"), Map.of(), List.of());
        assertBad("port must be 0..65535", file("control-listen = 127.0.0.1:70000\n"), Map.of(), List.of());
        assertBad("unknown host 'no-such-host.invalid'", file("metrics-listen = no-such-host.invalid:9101\n"), Map.of(), List.of());
        assertBad("no such file", dir.resolve("missing.conf"), Map.of(), List.of());
        assertBad("--peer 'hostB': expected NAME=HOST:PORT", null, Map.of(), List.of("hostB"));
        assertBad("--peer-listen", null, Map.of(DaemonConfig.KEY_PEER_LISTEN, "nope"), List.of());
        assertBad("name 'bad name'", null, Map.of(DaemonConfig.KEY_NAME, "bad name"), List.of());
        assertBad("IPv6 addresses as [ADDR]:PORT", null, Map.of(DaemonConfig.KEY_PEER_LISTEN, "::1:7101"), List.of());
        assertBad("line 1 (sim-prefault): must be true or false, not 'yes'", file("sim-prefault = yes\n"), Map.of(), List.of());
        assertBad("--sim-prefault: applies to the sim backend only (backend is xen)", null,
                Map.of(DaemonConfig.KEY_SIM_PREFAULT, "true", DaemonConfig.KEY_BACKEND, "xen"), List.of());
        assertBad("line 1 (journal-retention): journal retention '7 days' must be NUMBERh or NUMBERd",
                file("journal-retention = 7 days\n"), Map.of(), List.of());
        assertBad("--journal-retention: journal retention '30m'", null, Map.of(DaemonConfig.KEY_JOURNAL_RETENTION, "30m"), List.of());
        assertBad("between 1h and 3650d", null, Map.of(DaemonConfig.KEY_JOURNAL_RETENTION, "0h"), List.of());
        assertBad("between 1h and 3650d", null, Map.of(DaemonConfig.KEY_JOURNAL_RETENTION, "4000d"), List.of());
    }

    @Test
    void compressionDefaultsToAutoAndTakesTheFileOrAFlag() throws Exception {
        assertEquals(dev.migrationd.daemon.transport.CompressionMode.AUTO,
                DaemonConfig.resolve(null, INSECURE, List.of()).peerLink().compression());
        assertEquals(dev.migrationd.daemon.transport.CompressionMode.OFF,
                DaemonConfig.resolve(file("compression = off\n"), INSECURE, List.of()).peerLink().compression());
        assertEquals(dev.migrationd.daemon.transport.CompressionMode.ZSTD, DaemonConfig.resolve(file("compression = off\n"),
                Map.of(PeerLinkConfig.KEY_COMPRESSION, "zstd", PeerLinkConfig.KEY_INSECURE, "true"), List.of()).peerLink().compression());
        assertBad("line 1 (compression): must be auto, lz4, zstd or off, not 'gzip'", file("compression = gzip\n"), Map.of(), List.of());
        assertBad("--compression: must be auto, lz4, zstd or off, not 'fast'", null,
                Map.of(PeerLinkConfig.KEY_COMPRESSION, "fast"), List.of());
    }

    @Test
    void journalRetentionDefaultsToAWeekAndTakesHoursOrDays() throws Exception {
        assertEquals(java.time.Duration.ofDays(7), DaemonConfig.resolve(null, INSECURE, List.of()).journalRetention());
        assertEquals(java.time.Duration.ofHours(36),
                DaemonConfig.resolve(file("journal-retention = 36h\n"), INSECURE, List.of()).journalRetention());
        assertEquals(java.time.Duration.ofDays(30), DaemonConfig.resolve(file("journal-retention = 36h\n"),
                Map.of(DaemonConfig.KEY_JOURNAL_RETENTION, "30d", PeerLinkConfig.KEY_INSECURE, "true"), List.of()).journalRetention());
    }

    @Test
    void simPrefaultFromTheFileOrAFlagBecomesABackendOption() throws Exception {
        assertFalse(DaemonConfig.resolve(null, INSECURE, List.of()).simPrefault());
        assertEquals(Map.of(), DaemonConfig.resolve(null, INSECURE, List.of()).backendOptions());
        DaemonConfig fromFile = DaemonConfig.resolve(file("sim-prefault = true\n"), INSECURE, List.of());
        assertTrue(fromFile.simPrefault());
        assertEquals(Map.of("prefault", "true"), fromFile.backendOptions());
        DaemonConfig flagWins = DaemonConfig.resolve(file("sim-prefault = true\n"),
                Map.of(DaemonConfig.KEY_SIM_PREFAULT, "false", PeerLinkConfig.KEY_INSECURE, "true"), List.of());
        assertFalse(flagWins.simPrefault());
    }

    @Test
    void timeoutsDefaultToTheEngineDefaultsAndComeFromTheFileOrAFlag() throws Exception {
        DaemonConfig.Timeouts d = DaemonConfig.resolve(null, INSECURE, List.of()).timeouts();
        assertEquals(Duration.ofSeconds(60), d.handshake());
        assertEquals(Duration.ofSeconds(60), d.idle());
        assertEquals(Duration.ofSeconds(2), d.inDoubtRetry());
        assertEquals(Duration.ofSeconds(10), d.abortWait());
        assertEquals(Duration.ofSeconds(30), d.closeWait());
        assertEquals(Duration.ofSeconds(10), d.connect());
        DaemonConfig c = DaemonConfig.resolve(file("""
                handshake-timeout = 5s
                idle-timeout = 2m
                in-doubt-retry = 250ms
                abort-wait = 3s
                close-wait = 1h
                connect-timeout = 1500ms
                """), Map.of(DaemonConfig.KEY_IDLE_TIMEOUT, "7s", PeerLinkConfig.KEY_INSECURE, "true"), List.of());
        assertEquals(new DaemonConfig.Timeouts(Duration.ofSeconds(5), Duration.ofSeconds(7), Duration.ofMillis(250),
                Duration.ofSeconds(3), Duration.ofHours(1), Duration.ofMillis(1500)), c.timeouts());
    }

    @Test
    void badTimeoutsGetOneLineNamingTheSettingAndTheRule() throws Exception {
        assertBad("line 1 (handshake-timeout): handshake-timeout '60': expected a whole number and a unit (ms, s, m or h)",
                file("handshake-timeout = 60\n"), Map.of(), List.of());
        assertBad("--idle-timeout: idle-timeout '1.5s': expected a whole number and a unit",
                null, Map.of(DaemonConfig.KEY_IDLE_TIMEOUT, "1.5s"), List.of());
        assertBad("--in-doubt-retry: in-doubt-retry '0s': must be between 10ms and 24h",
                null, Map.of(DaemonConfig.KEY_IN_DOUBT_RETRY, "0s"), List.of());
        assertBad("--close-wait: close-wait '25h': must be between 10ms and 24h",
                null, Map.of(DaemonConfig.KEY_CLOSE_WAIT, "25h"), List.of());
        assertBad("--connect-timeout: connect-timeout '-1s'", null, Map.of(DaemonConfig.KEY_CONNECT_TIMEOUT, "-1s"), List.of());
        assertBad("abort-wait '99999999999s'", file("abort-wait = 99999999999s\n"), Map.of(), List.of());
    }

    @Test
    void controlAddressesRolesAndTheirRules() throws Exception {
        DaemonConfig c = DaemonConfig.resolve(file("""
                control-listen = unix:/run/x/control.sock, 127.0.0.1:7100
                control-socket-mode = 0640
                control-socket-group = migrationd
                control-operators = root, @migrationd, cert:ops
                control-readers = @adm,1000
                control-loopback-role = read-only
                """), INSECURE, List.of());
        ControlConfig cc = c.control();
        assertEquals(List.of(new ControlConfig.Address.Unix(Path.of("/run/x/control.sock")),
                new ControlConfig.Address.Tcp(new InetSocketAddress("127.0.0.1", 7100))), cc.listen());
        assertEquals("rw-r-----", java.nio.file.attribute.PosixFilePermissions.toString(cc.socketMode()));
        assertEquals(java.util.Optional.of("migrationd"), cc.socketGroup());
        assertEquals(List.of("root", "@migrationd", "cert:ops"), cc.access().operators().stream()
                .map(dev.migrationd.daemon.control.ControlAccess.Grant::text).toList());
        assertEquals(java.util.Optional.of(dev.migrationd.daemon.control.ControlRole.READ_ONLY), cc.access().loopbackRole());
        assertEquals(java.util.Optional.empty(), DaemonConfig.resolve(null, new java.util.HashMap<>(Map.of(
                PeerLinkConfig.KEY_INSECURE, "true", ControlConfig.KEY_LOOPBACK_ROLE, "none")), List.of())
                .control().access().loopbackRole());

        assertBad("control-listen 10.0.0.1:7100 is not a loopback address, and plaintext TCP is allowed on loopback only",
                null, Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "10.0.0.1:7100"), List.of());
        assertBad("plaintext TCP is allowed on loopback only", null, Map.of(DaemonConfig.KEY_CONTROL_LISTEN,
                "unix:/run/x.sock,0.0.0.0:7100"), List.of());
        assertBad("control-tls-key is missing", null, Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "10.0.0.1:7100",
                ControlConfig.KEY_TLS_CA, "/ca.pem", ControlConfig.KEY_TLS_CERT, "/c.pem"), List.of());
        assertBad("are for TCP control addresses, and control-listen has none", null, Map.of(ControlConfig.KEY_TLS_CA,
                "/ca.pem", ControlConfig.KEY_TLS_CERT, "/c.pem", ControlConfig.KEY_TLS_KEY, "/c.key"), List.of());
        assertBad("a Unix socket is unix:/ABSOLUTE/PATH", null, Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "unix:run/x.sock"),
                List.of());
        assertBad("names 'unix:/a.sock' twice", null, Map.of(DaemonConfig.KEY_CONTROL_LISTEN, "unix:/a.sock,unix:/a.sock"),
                List.of());
        assertBad("control-socket-mode '0999': expected an octal mode", null, Map.of(ControlConfig.KEY_SOCKET_MODE, "0999"),
                List.of());
        assertBad("--control-loopback-role: 'admin' is not a role (operator, read-only or none)", null,
                Map.of(ControlConfig.KEY_LOOPBACK_ROLE, "admin"), List.of());
        assertBad("--control-operators: 'a b' is not a user", null, Map.of(ControlConfig.KEY_OPERATORS, "root,a b"), List.of());
    }

    @Test
    void theUnauthenticatedConnectionBudgetsAreSettingsAndTheShareFollowsASmallerTotal() throws Exception {
        DaemonConfig d = DaemonConfig.resolve(null, INSECURE, List.of());
        assertEquals(128, d.limits().maxHandshakes());
        assertEquals(8, d.limits().maxHandshakesPerAddress());
        Map<String, String> flags = new HashMap<>(INSECURE);
        flags.put(LimitsConfig.KEY_MAX_PEER_HANDSHAKES, "4");
        DaemonConfig small = DaemonConfig.resolve(null, flags, List.of());
        assertEquals(4, small.limits().maxHandshakes());
        assertEquals(4, small.limits().maxHandshakesPerAddress(), "an unset share is at most the total");
        flags.put(LimitsConfig.KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS, "5");
        ConfigException e = assertThrows(ConfigException.class, () -> DaemonConfig.resolve(null, flags, List.of()));
        assertTrue(e.getMessage().contains("max-peer-handshakes-per-address 5 is more than max-peer-handshakes 4"), e.getMessage());
        flags.put(LimitsConfig.KEY_MAX_PEER_HANDSHAKES_PER_ADDRESS, "0");
        e = assertThrows(ConfigException.class, () -> DaemonConfig.resolve(null, flags, List.of()));
        assertTrue(e.getMessage().contains("must be a whole number in 1..65536"), e.getMessage());
    }
}
