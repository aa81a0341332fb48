package dev.migrationd.faults;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The two hosts' network: each daemon in its own network namespace with its own address, joined through a
 * bridge in the root namespace, where the runner (control API client, fault proxy) has an address too.
 *
 * <pre>
 *   netns mfs-a: mfs-a0 10.77.0.1/24 ──veth── mfs-ra ─┐
 *                                                    ├─ bridge mfs-br 10.77.0.254/24 (root: runner, proxy)
 *   netns mfs-b: mfs-b0 10.77.0.2/24 ──veth── mfs-rb ─┘
 * </pre>
 *
 * Packets between the hosts are real packets on veth devices, so nftables rules inside a namespace act on
 * them. Created once per run; {@link #teardown} removes everything, also what a killed earlier run left.
 *
 * <p>Used by the runner thread only (and by the shutdown hook, after it).
 */
final class Lab {

    static final String NS_A = "mfs-a";
    static final String NS_B = "mfs-b";
    static final String IP_A = "10.77.0.1";
    static final String IP_B = "10.77.0.2";
    static final String IP_ROOT = "10.77.0.254";
    static final String BRIDGE = "mfs-br";
    private static final String TABLE = "mfs_fault";

    private Lab() {
    }

    /** Removes leftovers, then builds the namespaces, veths and bridge. */
    static void setup() {
        teardown();
        Sh.must("ip", "link", "add", BRIDGE, "type", "bridge");
        Sh.must("ip", "addr", "add", IP_ROOT + "/24", "dev", BRIDGE);
        Sh.must("ip", "link", "set", BRIDGE, "up");
        host(NS_A, "mfs-a0", "mfs-ra", IP_A);
        host(NS_B, "mfs-b0", "mfs-rb", IP_B);
    }

    private static void host(String ns, String inside, String outside, String ip) {
        Sh.must("ip", "netns", "add", ns);
        Sh.must("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns);
        Sh.must("ip", "link", "set", outside, "master", BRIDGE);
        Sh.must("ip", "link", "set", outside, "up");
        Sh.must("ip", "-n", ns, "addr", "add", ip + "/24", "dev", inside);
        Sh.must("ip", "-n", ns, "link", "set", inside, "up");
        Sh.must("ip", "-n", ns, "link", "set", "lo", "up");
    }

    /** Deletes the namespaces (their veth ends go with them) and the bridge; quiet when absent. */
    static void teardown() {
        Sh.run("ip", "netns", "del", NS_A);
        Sh.run("ip", "netns", "del", NS_B);
        Sh.run("ip", "link", "del", BRIDGE);
    }

    /** Every peer packet of the host in {@code ns} (its peer port, both directions) is dropped, silently. */
    static void dropPeerTraffic(String ns, int peerPort) {
        nft(ns, "table inet " + TABLE + " {\n"
                + "  chain in { type filter hook input priority 0; tcp dport " + peerPort + " drop; }\n"
                + "  chain out { type filter hook output priority 0; tcp sport " + peerPort + " drop; }\n"
                + "}\n");
    }

    /**
     * Once {@code bytes} bytes of peer traffic have reached the host in {@code ns}, every further peer packet
     * to it is answered with a TCP reset: the sending end (the source's side) sees the connection reset, the
     * receiving daemon sees nothing more (a reset it cannot hear, as across a middlebox that lost the flow).
     * Only inbound: a reset this host generates leaves through its output hook, and a rule there would
     * swallow it.
     */
    static void resetPeerTrafficAfter(String ns, int peerPort, long bytes) {
        nft(ns, "table inet " + TABLE + " {\n"
                + "  quota q { over " + bytes + " bytes }\n"
                + "  chain in { type filter hook input priority 0; tcp dport " + peerPort + " quota name \"q\" reject with tcp reset; }\n"
                + "}\n");
    }

    /** Removes the fault rules from {@code ns}; quiet when there are none. */
    static void clearRules(String ns) {
        Sh.inNs(ns, null, "nft", "delete", "table", "inet", TABLE);
    }

    private static void nft(String ns, String script) {
        clearRules(ns);
        Sh.Result r = Sh.inNs(ns, script, "nft", "-f", "-");
        if (!r.ok()) {
            throw new IllegalStateException("nft in " + ns + " failed: " + r.output() + "\n" + script);
        }
    }

    /** Mount points at or under {@code base}, deepest first (from /proc/mounts). */
    static List<Path> mountsUnder(Path base) {
        List<Path> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
                String[] f = line.split(" ");
                if (f.length > 1) {
                    Path p = Path.of(f[1].replace("\\040", " "));
                    if (p.startsWith(base)) {
                        out.add(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/mounts: " + e.getMessage(), e);
        }
        out.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        return out;
    }

    /** Unmounts everything under {@code base} (lazily when busy). */
    static void unmountAll(Path base) {
        for (Path m : mountsUnder(base)) {
            if (!Sh.run("umount", m.toString()).ok()) {
                Sh.run("umount", "-l", m.toString());
            }
        }
    }
}
