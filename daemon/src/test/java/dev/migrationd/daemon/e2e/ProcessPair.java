package dev.migrationd.daemon.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.migrationd.daemon.TestCerts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * hostA and hostB as two daemon processes on loopback, each with its own state directory; hostA reaches
 * hostB through a {@link CutProxy} (hostA's {@code --peer hostB=} is the proxy's port).
 */
final class ProcessPair implements AutoCloseable {

    final DaemonProcess a;
    final DaemonProcess b;
    final CutProxy proxy;

    private ProcessPair(DaemonProcess a, DaemonProcess b, CutProxy proxy) {
        this.a = a;
        this.b = b;
        this.proxy = proxy;
    }

    static ProcessPair start(Path dir) throws Exception {
        return start(dir, List.of());
    }

    /** Two daemons, both started with {@code extraArgs} after the standard flags. */
    static ProcessPair start(Path dir, List<String> extraArgs) throws Exception {
        int aPeer = freePort();
        int bPeer = freePort();
        Path tls = dir.resolve("tls");
        CutProxy proxy = new CutProxy(bPeer, TestCerts.host(tls, "hostA"), TestCerts.host(tls, "hostB"));
        CompletableFuture<DaemonProcess> fb = CompletableFuture.supplyAsync(() -> launch("hostB", dir, bPeer, extraArgs, "hostA=127.0.0.1:" + aPeer));
        CompletableFuture<DaemonProcess> fa = CompletableFuture.supplyAsync(() -> launch("hostA", dir, aPeer, extraArgs, "hostB=127.0.0.1:" + proxy.port()));
        try {
            return new ProcessPair(fa.join(), fb.join(), proxy);
        } catch (CompletionException e) {
            fa.thenAccept(DaemonProcess::close);
            fb.thenAccept(DaemonProcess::close);
            proxy.close();
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }

    private static DaemonProcess launch(String name, Path dir, int peerPort, List<String> extraArgs, String peer) {
        try {
            return DaemonProcess.start(name, dir, peerPort, extraArgs, peer);
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Exactly one copy: {@code domain} runs (not migrating) on {@code owner}, is absent from the other
     * daemon, and neither sim state directory holds anything but the owner's domain (no half-built or
     * half-destroyed domain). Waits up to 30 s for clean-ups in progress.
     */
    void assertExactlyOneCopy(String domain, DaemonProcess owner) throws InterruptedException {
        DaemonProcess other = owner == a ? b : a;
        Ctl.waitUntil(domain + " only on " + owner.name, Duration.ofSeconds(30), () -> oneCopy(domain, owner, other),
                () -> "domains " + owner.name + "=" + Ctl.domains(owner.addr()).keySet() + " " + other.name + "="
                        + Ctl.domains(other.addr()).keySet() + "; sim dirs " + owner.name + "=" + dirs(owner) + " "
                        + other.name + "=" + dirs(other) + "\n--- " + other.name + " log tail:\n" + tail(other.log()));
        var d = Ctl.domains(owner.addr()).get(domain);
        assertNotNull(d);
        assertEquals("DOMAIN_STATE_RUNNING", d.get("state").getAsString(), d.toString());
        assertFalse(d.get("migrating").getAsBoolean(), d.toString());
    }

    private static boolean oneCopy(String domain, DaemonProcess owner, DaemonProcess other) {
        Map<String, com.google.gson.JsonObject> mine = Ctl.domains(owner.addr());
        var d = mine.get(domain);
        return d != null && d.get("state").getAsString().equals("DOMAIN_STATE_RUNNING") && !d.get("migrating").getAsBoolean()
                && !Ctl.domains(other.addr()).containsKey(domain)
                && dirs(owner).stream().allMatch(n -> mine.containsKey(n))
                && dirs(other).stream().noneMatch(n -> n.equals(domain) || n.startsWith("."));
    }

    static List<String> dirs(DaemonProcess d) {
        try {
            return d.simDomainDirs();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String tail(String log) {
        List<String> lines = log.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    @Override
    public void close() {
        proxy.close();
        a.close();
        b.close();
    }
}
