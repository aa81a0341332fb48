package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sd_notify against a real AF_UNIX datagram socket, bound by another program (python3's socket module,
 * as systemd binds its own), at a path and in the abstract namespace.
 */
class SystemdNotifyTest {

    @TempDir
    Path dir;

    /** Binds {@code address} (a path or "\0name"), prints "bound", then prints each datagram received, twice. */
    private static Process receiver(String address) throws IOException {
        Path python = Path.of("/usr/bin/python3");
        assertTrue(Files.isExecutable(python), "python3 is missing (Debian package python3); this test needs it");
        String script = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(sys.argv[1].replace('@', '\\0', 1) if sys.argv[1].startswith('@') else sys.argv[1])
                print('bound', flush=True)
                for _ in range(2):
                    print(repr(s.recv(8192).decode()), flush=True)
                """;
        return new ProcessBuilder(python.toString(), "-c", script, address).redirectErrorStream(true).start();
    }

    private static void roundTrip(String address) throws Exception {
        Process p = receiver(address);
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("bound", out.readLine());
            SystemdNotify n = new SystemdNotify(address);
            n.send("READY=1\nSTATUS=control 127.0.0.1:7100, peers 127.0.0.1:7101");
            n.send("STOPPING=1");
            assertEquals("'READY=1\\nSTATUS=control 127.0.0.1:7100, peers 127.0.0.1:7101'", out.readLine());
            assertEquals("'STOPPING=1'", out.readLine());
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void datagramsReachASocketAtAPath() throws Exception {
        roundTrip(dir.resolve("notify").toString());
    }

    @Test
    void datagramsReachAnAbstractSocket() throws Exception {
        roundTrip("@migrationd-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    }

    @Test
    void aSocketNobodyListensOnIsAnErrorNamingIt() {
        String path = dir.resolve("nobody").toString();
        IOException e = assertThrows(IOException.class, () -> new SystemdNotify(path).send("READY=1"));
        assertTrue(e.getMessage().contains(path) && e.getMessage().contains("errno 2"), e.getMessage()); // ENOENT
    }

    @Test
    void badSocketNamesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SystemdNotify("relative/path"));
        assertThrows(IllegalArgumentException.class, () -> new SystemdNotify("/" + "x".repeat(SystemdNotify.SUN_PATH_MAX)));
    }
}
