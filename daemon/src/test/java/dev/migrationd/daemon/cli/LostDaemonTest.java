package dev.migrationd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import dev.migrationd.daemon.TwoDaemons;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A CLI that loses its daemon in the middle of a save (the link between them cut for good) says that the
 * outcome is not known to it, names the operation and the command that tells, and exits with the
 * unreachable code; the save itself goes on in the daemon to its end. Nobody is told the guest is alive
 * when it is being destroyed.
 */
class LostDaemonTest {

    @TempDir
    static Path dir;
    static TwoDaemons daemons;

    @BeforeAll
    static void start() throws Exception {
        daemons = new TwoDaemons(dir);
    }

    @AfterAll
    static void stop() {
        if (daemons != null) {
            daemons.close();
        }
    }

    record Result(int code, String out, String err) {
    }

    static Result ctl(String... args) {
        CommandLine cl = MigrationCtl.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    @Test
    void aCliThatLosesTheDaemonMidSaveSaysTheOutcomeIsUnknownAndHowToLearnIt() throws Exception {
        Result created = ctl("domain", "create", "lost1", "--daemon", daemons.aAddr(), "--memory", "64MiB", "--vcpus", "1",
                "--type", "pv", "--fill", "random");
        assertEquals(0, created.code(), created.err());
        Path file = dir.resolve("lost1.save");
        try (Relay relay = new Relay(daemons.a.controlPort())) {
            // 64 MiB at 8 MiB/s: about eight seconds of writing, cut after the first
            CompletableFuture<Result> save = CompletableFuture.supplyAsync(() -> ctl("save", "lost1", file.toString(),
                    "--daemon", "127.0.0.1:" + relay.port(), "--bandwidth", "8MiB/s"));
            String id = awaitRunningSave();
            relay.cut();
            Result r = save.get(60, TimeUnit.SECONDS);
            assertEquals(ExitCode.UNREACHABLE, r.code(), r.out() + r.err());
            assertTrue(r.out().contains("started save " + id), r.out());
            assertTrue(r.err().contains("stopped following save " + id + " (last phase STOP_AND_COPY); it goes on in the daemon"
                    + " (unless it is cancelled or fails, the file is written and the domain destroyed"), r.err());
            assertTrue(r.err().contains("its outcome is NOT known here") && r.err().contains("'migrationctl watch " + id + "'"),
                    r.err());
            // what the operator is told to run tells the truth: the save went on to its end
            Result watch = ctl("watch", id, "--daemon", daemons.aAddr());
            assertEquals(0, watch.code(), watch.out() + watch.err());
            assertTrue(watch.out().contains(": SUCCEEDED"), watch.out());
            Result status = ctl("status", id, "--daemon", daemons.aAddr(), "--format", "json");
            assertTrue(Files.size(file) > 32L << 20 && status.out().contains("\"bytesSent\":\"" + Files.size(file) + "\""),
                    "the file is complete, as the daemon reports: " + status.out());
            Result domains = ctl("domains", "--daemon", daemons.aAddr());
            assertTrue(domains.out().lines().noneMatch(l -> l.startsWith("lost1 ")), "saved without --keep-running: "
                    + domains.out());
        }
    }

    /** The id of the save running on hostA, once it writes pages. */
    private static String awaitRunningSave() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Pattern running = Pattern.compile("^([0-9a-f-]{36})\\s+lost1\\s+save\\s.*STOP_AND_COPY", Pattern.MULTILINE);
        while (System.nanoTime() < deadline) {
            Matcher m = running.matcher(ctl("list", "--daemon", daemons.aAddr()).out());
            if (m.find()) {
                return m.group(1);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no save of lost1 running on hostA after 60 s");
    }

    /**
     * A TCP relay on loopback to one port; {@link #cut()} closes its listener and every connection for good,
     * as a dead link or a vanished daemon looks to the client. Threads: one acceptor, two copiers per
     * connection; the sockets list is concurrent.
     */
    private static final class Relay implements AutoCloseable {
        private final ServerSocket listener;
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        Relay(int target) throws IOException {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        Socket in = listener.accept();
                        Socket out = new Socket(InetAddress.getLoopbackAddress(), target);
                        sockets.add(in);
                        sockets.add(out);
                        copy(in, out);
                        copy(out, in);
                    }
                } catch (IOException e) {
                    // cut or closed
                }
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        private static void copy(Socket from, Socket to) {
            Thread.ofPlatform().daemon().start(() -> {
                byte[] buf = new byte[16384];
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        out.write(buf, 0, n);
                    }
                } catch (IOException e) {
                    // cut
                }
            });
        }

        void cut() throws IOException {
            listener.close();
            for (Socket s : sockets) {
                s.close();
            }
        }

        @Override
        public void close() throws IOException {
            cut();
        }
    }
}
