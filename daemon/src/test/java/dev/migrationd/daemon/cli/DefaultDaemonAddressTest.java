package dev.migrationd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.GlobalOptions;
import dev.migrationd.control.cli.MigrationCtl;
import dev.migrationd.daemon.Daemon;
import dev.migrationd.daemon.DaemonConfig;
import dev.migrationd.daemon.PeerLinkConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * migrationctl without {@code --daemon} finds the daemon by itself: {@code $MIGRATIOND_ADDR} when set, else the
 * control socket when that file exists, else the loopback TCP address; and when neither answers, the error names
 * both places it looked. Against real daemons: one on a Unix socket, one on loopback TCP.
 *
 * <p>The defaults are given to the command line ({@link MigrationCtl#commandLine(GlobalOptions.Defaults)}: the
 * socket path, the TCP address, the environment) rather than used as they are: the real socket,
 * /run/migrationd/control.sock, may belong to a daemon running on this machine, a test must not create or remove
 * it, and the real environment may have $MIGRATIOND_ADDR set. The program itself always uses
 * {@link GlobalOptions.Defaults#SYSTEM}; there is no option a user could give to move them.
 */
class DefaultDaemonAddressTest {

    @TempDir
    static Path dir;
    static Daemon onSocket;
    static Daemon onTcp;
    static Path socket;

    @BeforeAll
    static void daemons() throws Exception {
        socket = dir.resolve("run/control.sock");
        onSocket = daemon("hostA", "unix:" + socket);
        onTcp = daemon("hostB", "127.0.0.1:0");
        assertEquals(0, ctl(explicit(), "domain", "create", "on-socket", "--memory", "16MiB", "--daemon", "unix:" + socket).code);
        assertEquals(0, ctl(explicit(), "domain", "create", "on-tcp", "--memory", "16MiB", "--daemon", tcp()).code);
    }

    @AfterAll
    static void stop() {
        onSocket.close();
        onTcp.close();
    }

    static Daemon daemon(String name, String control) throws Exception {
        Map<String, String> flags = new HashMap<>(Map.of(DaemonConfig.KEY_NAME, name,
                DaemonConfig.KEY_STATE_DIR, dir.resolve(name).toString(), DaemonConfig.KEY_CONTROL_LISTEN, control,
                DaemonConfig.KEY_PEER_LISTEN, "127.0.0.1:0", DaemonConfig.KEY_METRICS_LISTEN, "127.0.0.1:0",
                PeerLinkConfig.KEY_INSECURE, "true"));
        return Daemon.start(DaemonConfig.resolve(null, flags, List.of()));
    }

    static String tcp() {
        return "127.0.0.1:" + onTcp.controlPort();
    }

    /** Defaults that would find nothing: for the calls that name their daemon. */
    static GlobalOptions.Defaults explicit() {
        return new GlobalOptions.Defaults(name -> null, dir.resolve("nowhere.sock"), "127.0.0.1:1");
    }

    record Result(int code, String out, String err) {
    }

    static Result ctl(GlobalOptions.Defaults defaults, String... args) {
        var cl = MigrationCtl.commandLine(defaults);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void theSocketIsUsedWhenItExists() {
        // the TCP default is the other daemon: the socket must win
        Result r = ctl(new GlobalOptions.Defaults(name -> null, socket, tcp()), "domains");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("on-socket") && !r.out.contains("on-tcp"), r.out);
    }

    @Test
    void theTcpAddressIsUsedWhenThereIsNoSocket() {
        Path none = dir.resolve("run/absent.sock");
        assertFalse(Files.exists(none));
        Result r = ctl(new GlobalOptions.Defaults(name -> null, none, tcp()), "domains");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("on-tcp") && !r.out.contains("on-socket"), r.out);
    }

    @Test
    void theEnvironmentWinsOverTheSocket() {
        Result r = ctl(new GlobalOptions.Defaults(name -> name.equals(GlobalOptions.ADDR_ENV) ? tcp() : null, socket,
                "127.0.0.1:1"), "domains");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("on-tcp"), r.out);
    }

    @Test
    void whenNeitherAnswersTheErrorNamesBoth() throws Exception {
        Path none = dir.resolve("run/absent.sock");
        String nothing = "127.0.0.1:" + freePort(); // free a moment ago: nothing listens there
        Result r = ctl(new GlobalOptions.Defaults(name -> null, none, nothing), "domains");
        assertEquals(ExitCode.UNREACHABLE, r.code, r.out + r.err);
        assertTrue(r.err.startsWith("migrationctl: no daemon found: no control socket at " + none + ", and nothing answers at "
                + nothing + " ("), r.err);
        assertTrue(r.err.contains("is migrationd running? Set --daemon unix:PATH|HOST:PORT or $MIGRATIOND_ADDR."), r.err);
        assertEquals(1, r.err.lines().count(), "one line: " + r.err);
    }

    @Test
    void aSocketThatExistsButDoesNotAnswerIsNamed() throws Exception {
        // a socket file left by a daemon that is gone: it is used (it exists), and the error says so
        Path stale = dir.resolve("run/stale.sock");
        try (var s = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            s.bind(java.net.UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        Result r = ctl(new GlobalOptions.Defaults(name -> null, stale, tcp()), "domains");
        assertEquals(ExitCode.UNREACHABLE, r.code, r.out + r.err);
        assertTrue(r.err.startsWith("migrationctl: cannot reach the daemon at unix:" + stale), r.err);
    }
}
