package dev.migrationd.faults;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the suite finds what it runs, from system properties the launcher ({@code bin/fault-suite}) sets.
 */
final class Config {

    private Config() {
    }

    /**
     * The daemons' timeouts in the lab: shorter than the defaults, so that a stall "beyond every timeout"
     * lasts half a minute rather than more than one, yet long enough for a daemon on a loaded 2-core
     * machine to answer in time when no fault is acting: there, a destination's first Accept (a cold JVM
     * connecting, admitting and building the domain) took 15 s.
     */
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(20);
    static final Duration IN_DOUBT_RETRY = Duration.ofSeconds(1);
    static final Duration ABORT_WAIT = Duration.ofSeconds(5);
    static final Duration CLOSE_WAIT = Duration.ofSeconds(10);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    /** The flags that give each daemon the lab's timeouts. */
    static List<String> timeoutFlags() {
        List<String> f = new ArrayList<>();
        f.add("--handshake-timeout=" + HANDSHAKE_TIMEOUT.toMillis() + "ms");
        f.add("--idle-timeout=" + IDLE_TIMEOUT.toMillis() + "ms");
        f.add("--in-doubt-retry=" + IN_DOUBT_RETRY.toMillis() + "ms");
        f.add("--abort-wait=" + ABORT_WAIT.toMillis() + "ms");
        f.add("--close-wait=" + CLOSE_WAIT.toMillis() + "ms");
        f.add("--connect-timeout=" + CONNECT_TIMEOUT.toMillis() + "ms");
        return f;
    }

    /**
     * The peer link in plaintext: the fault proxy parses the peer frames to cut a connection at a chosen
     * hand-over step, which it cannot do inside TLS. The suite tests the hand-over under faults; the peer
     * link's TLS is tested by the daemon's own tests (PeerSecurityTest).
     */
    static List<String> peerLinkFlags() {
        return List.of("--insecure-peer-link");
    }

    /** What each daemon lets its peer do (deny by default, on a plaintext link too): send migrations and ask about them. */
    static final String PEER_PERMISSIONS = "migrate,query";

    /** The JDK's java (the launcher's, else this JVM's). */
    static String java() {
        return System.getProperty("faults.java", ProcessHandle.current().info().command().orElse("java"));
    }

    /** The daemon's runtime class path: this module's {@code target/lib/*} (the daemon jar and its dependencies). */
    static String daemonClasspath() {
        String cp = System.getProperty("faults.daemonClasspath");
        if (cp == null) {
            throw new IllegalStateException("faults.daemonClasspath is not set; run the suite through bin/fault-suite");
        }
        return cp;
    }

    /** The directory every run keeps its scenarios under (logs of failures stay there). */
    static Path base() {
        return Path.of(System.getProperty("faults.base", "/var/tmp/migrationd-fault-suite"));
    }
}
