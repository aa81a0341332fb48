package dev.migrationd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code make-dist.sh} built (the package phase), checked as a user of each artifact would: the tree
 * runs with no JDK on the machine, the CLI maps its AOT cache wherever the tree is, two daemons started as
 * the unit starts them move a guest, the .deb holds the standard paths, the OCI image runs from its layers.
 */
class DistributionIT {

    static final Path DIST = Path.of(System.getProperty("dist.dir"));
    static final Path OUT = Path.of(System.getProperty("dist.out"));
    static final String VERSION = System.getProperty("dist.version");
    /** A machine without Java: no JAVA_HOME, no JDK on PATH. */
    static final Map<String, String> BARE = Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", "LANG", "C.UTF-8");

    @TempDir
    Path tmp;

    record Run(int code, String out) {
    }

    static Run run(Map<String, String> env, Path dir, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().clear();
        pb.environment().putAll(env);
        Path log = Files.createTempFile("dist-it", ".log");
        Process p = pb.redirectOutput(log.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish:\n" + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log));
    }

    static Run run(String... cmd) throws IOException, InterruptedException {
        return run(BARE, null, cmd);
    }

    @Test
    void theTreeCarriesARuntimeNotAJdk() throws Exception {
        assertTrue(Files.isExecutable(DIST.resolve("runtime/bin/java")));
        assertFalse(Files.exists(DIST.resolve("runtime/bin/javac")), "a runtime, not a JDK");
        Run modules = run(DIST.resolve("runtime/bin/java").toString(), "--list-modules");
        assertEquals(0, modules.code(), modules.out());
        assertTrue(modules.out().contains("java.base@") && !modules.out().contains("jdk.compiler"), modules.out());
        for (String f : List.of("bin/migrationd", "bin/migrationctl", "etc/migrationd.conf", "etc/default/migrationd",
                "systemd/migrationd.service", "systemd/xen.conf", "share/bash-completion/completions/migrationctl",
                "share/bash-completion/completions/migrationd", "lib/migrationctl.aot", "lib/migrationd.aot")) {
            assertTrue(Files.exists(DIST.resolve(f)), f);
        }
        for (String c : List.of("migrationctl", "migrationd")) {
            Run syntax = run("bash", "-n", DIST.resolve("share/bash-completion/completions/" + c).toString());
            assertEquals(0, syntax.code(), c + " completion: " + syntax.out());
        }
    }

    @Test
    void bothProgramsRunWithoutAJdkAndExplainThemselves() throws Exception {
        Run ctl = run(DIST.resolve("bin/migrationctl").toString(), "--help");
        assertEquals(0, ctl.code(), ctl.out());
        assertTrue(ctl.out().contains("Usage: migrationctl") && ctl.out().contains("Exit codes:"), ctl.out());
        Run d = run(DIST.resolve("bin/migrationd").toString(), "--help");
        assertEquals(0, d.code(), d.out());
        for (String s : List.of("--config", "--log-format", "--health-listen", "Exit codes:", "SIGHUP", "READY=1")) {
            assertTrue(d.out().contains(s), s + " in:\n" + d.out());
        }
        Run bad = run(DIST.resolve("bin/migrationd").toString(), "--backend", "vmware", "--state-dir", tmp.toString());
        assertEquals(2, bad.code(), "a configuration error is exit 2 (the unit does not restart on it): " + bad.out());
    }

    @Test
    void theCliMapsItsAotCacheWhereverTheTreeIsCopied() throws Exception {
        Path copy = tmp.resolve("elsewhere");
        assertEquals(0, run("cp", "-a", DIST.toString(), copy.toString()).code());
        Map<String, String> env = new java.util.HashMap<>(BARE);
        // AOTMode=on: the JVM refuses to start when the cache cannot be used
        env.put("MIGRATIONCTL_JAVA_OPTS", "-XX:AOTMode=on -Xlog:aot");
        Run r = run(env, null, copy.resolve("bin/migrationctl").toString(), "--version");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("Opened AOT cache " + copy.resolve("lib/migrationctl.aot")), r.out());
    }

    @Test
    void theDaemonMapsItsAotCacheWhereverTheTreeIsCopied() throws Exception {
        Path copy = tmp.resolve("elsewhere-daemon");
        assertEquals(0, run("cp", "-a", DIST.toString(), copy.toString()).code());
        Map<String, String> env = new java.util.HashMap<>(BARE);
        env.put("MIGRATIOND_JAVA_OPTS", "-XX:AOTMode=on -Xlog:aot");
        Run r = run(env, null, copy.resolve("bin/migrationd").toString(), "--version");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("Opened AOT cache " + copy.resolve("lib/migrationd.aot")), r.out());
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A host's config as an operator would write it into /etc/migrationd/migrationd.conf. */
    /**
     * The packaged config for one of two hosts, as an operator completes it: name, the other host as a peer
     * allowed to migrate here and to query, and the peer link's TLS files made by the distribution's
     * {@code migrationctl certs} (once, into {@code tmp/tls}).
     */
    Path config(String name, int control, int peer, int metrics, String other, int otherPeer)
            throws IOException, InterruptedException {
        Path tls = tmp.resolve("tls");
        if (!Files.exists(tls.resolve("ca.pem"))) {
            Run certs = run(DIST.resolve("bin/migrationctl").toString(), "certs", "--dir", tls.toString(), "hostA", "hostB");
            assertEquals(0, certs.code(), certs.out());
        }
        String conf = Files.readString(DIST.resolve("etc/migrationd.conf"))
                .replace("state-dir      = /var/lib/migrationd", "state-dir      = " + tmp.resolve(name))
                // loopback TCP instead of the packaged socket in /run/migrationd (two daemons, not as their unit)
                .replaceAll("(?m)^control-listen .*$", "control-listen = 127.0.0.1:" + control)
                .replace("127.0.0.1:7101", "127.0.0.1:" + peer)
                .replace("127.0.0.1:9101", "127.0.0.1:" + metrics)
                + "name = " + name + "\npeer." + other + " = 127.0.0.1:" + otherPeer + "\n"
                + "peer." + other + ".allow = migrate,query\n"
                + "tls-ca = " + tls.resolve("ca.pem") + "\ntls-cert = " + tls.resolve(name + ".pem")
                + "\ntls-key = " + tls.resolve(name + ".key") + "\n";
        Path f = tmp.resolve(name + ".conf");
        Files.writeString(f, conf);
        return f;
    }

    @Test
    void twoDaemonsStartedAsTheUnitStartsThemMoveAGuest() throws Exception {
        String unit = Files.readString(DIST.resolve("systemd/migrationd.service"));
        Matcher exec = Pattern.compile("\nExecStart=/usr/sbin/migrationd (.*)\n").matcher(unit);
        assertTrue(exec.find(), unit);
        assertEquals("--config ${MIGRATIOND_CONFIG} $MIGRATIOND_OPTS", exec.group(1), "update this test with the unit");
        int aCtl = freePort(), aPeer = freePort(), bCtl = freePort(), bPeer = freePort();
        List<Process> daemons = new ArrayList<>();
        try {
            for (Object[] h : List.of(new Object[] {"hostA", aCtl, aPeer, "hostB", bPeer}, new Object[] {"hostB", bCtl, bPeer, "hostA", aPeer})) {
                Path conf = config((String) h[0], (int) h[1], (int) h[2], freePort(), (String) h[3], (int) h[4]);
                // the environment file's JVM options, as EnvironmentFile= passes them
                ProcessBuilder pb = new ProcessBuilder(DIST.resolve("bin/migrationd").toString(), "--config", conf.toString())
                        .redirectErrorStream(true).redirectOutput(tmp.resolve(h[0] + ".log").toFile());
                pb.environment().clear();
                pb.environment().putAll(BARE);
                pb.environment().put("MIGRATIOND_JAVA_OPTS", "-Xmx512m");
                daemons.add(pb.start());
            }
            String ctl = DIST.resolve("bin/migrationctl").toString();
            for (int port : List.of(aCtl, bCtl)) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (run(ctl, "domains", "--daemon", "127.0.0.1:" + port).code() != 0) {
                    assertTrue(System.nanoTime() < deadline, "daemon on " + port + " did not come up:\n"
                            + Files.readString(tmp.resolve("hostA.log")) + Files.readString(tmp.resolve("hostB.log")));
                    Thread.sleep(500);
                }
            }
            Run create = run(ctl, "domain", "create", "dom7", "--daemon", "127.0.0.1:" + aCtl, "--memory", "64MiB",
                    "--vcpus", "1", "--type", "hvm", "--dirty-rate", "4MiB/s", "--working-set", "25%", "--pattern", "ab");
            assertEquals(0, create.code(), create.out());
            Run migrate = run(ctl, "migrate", "dom7", "--to", "hostB", "--daemon", "127.0.0.1:" + aCtl);
            assertEquals(0, migrate.code(), migrate.out());
            assertTrue(migrate.out().contains("SUCCEEDED"), migrate.out());
            Run onB = run(ctl, "domains", "--daemon", "127.0.0.1:" + bCtl, "--format", "json");
            assertTrue(onB.out().contains("\"name\":\"dom7\"") && onB.out().contains("DOMAIN_STATE_RUNNING"), onB.out());
            Run onA = run(ctl, "domains", "--daemon", "127.0.0.1:" + aCtl, "--format", "json");
            assertFalse(onA.out().contains("\"name\":\"dom7\""), onA.out());
        } finally {
            for (Process p : daemons) {
                p.destroy();
            }
            for (Process p : daemons) {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
        for (Process p : daemons) {
            assertEquals(0, p.exitValue(), "SIGTERM stops the daemon cleanly");
        }
    }

    @Test
    void theDebianPackageInstallsToTheStandardPaths() throws Exception {
        Path deb = OUT.resolve("migrationd_" + VERSION.replace("-SNAPSHOT", "~snapshot") + "_amd64.deb");
        assertTrue(Files.isRegularFile(deb), deb.toString());
        Run info = run("dpkg-deb", "--info", deb.toString());
        assertEquals(0, info.code(), info.out());
        for (String s : List.of("Package: migrationd", "Architecture: amd64", "Depends: libc6", "postinst", "prerm", "postrm", "conffiles")) {
            assertTrue(info.out().contains(s), s + " in:\n" + info.out());
        }
        Run contents = run("dpkg-deb", "--contents", deb.toString());
        assertEquals(0, contents.code(), contents.out());
        for (String s : List.of("./usr/lib/migrationd/runtime/bin/java", "./usr/lib/migrationd/lib/migrationctl.aot", "./usr/lib/migrationd/lib/migrationd.aot",
                "./usr/sbin/migrationd -> ../lib/migrationd/bin/migrationd", "./usr/bin/migrationctl -> ../lib/migrationd/bin/migrationctl",
                "./etc/migrationd/migrationd.conf", "./etc/default/migrationd", "./lib/systemd/system/migrationd.service",
                "./usr/share/bash-completion/completions/migrationctl", "./usr/share/doc/migrationd/examples/xen.conf")) {
            assertTrue(contents.out().contains(s), s + " in the package");
        }
        assertTrue(contents.out().lines().allMatch(l -> l.contains(" root/root ")), "every file is root's");
        Run conffiles = run("dpkg-deb", "--ctrl-tarfile", deb.toString());
        assertEquals(0, conffiles.code());
    }

    static String sha256(Path f) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]+)\"").matcher(json);
        assertTrue(m.find(), name + " in " + json);
        return m.group(1);
    }

    @Test
    void theOciImageIsAValidLayoutWhoseLayersRunTheDaemon() throws Exception {
        Path layout = tmp.resolve("layout");
        Files.createDirectories(layout);
        assertEquals(0, run("tar", "-xf", OUT.resolve("migrationd-" + VERSION + "-oci.tar").toString(), "-C", layout.toString()).code());
        assertEquals("{\"imageLayoutVersion\":\"1.0.0\"}", Files.readString(layout.resolve("oci-layout")).strip());
        String index = Files.readString(layout.resolve("index.json"));
        assertTrue(index.contains("\"org.opencontainers.image.ref.name\":\"" + VERSION + "\""), index);
        Path manifestBlob = blob(layout, field(index, "digest"));
        String manifest = Files.readString(manifestBlob);
        Matcher digests = Pattern.compile("\"digest\":\"(sha256:[0-9a-f]{64})\",\"size\":(\\d+)").matcher(manifest);
        List<Path> blobs = new ArrayList<>();
        while (digests.find()) {
            Path b = blob(layout, digests.group(1));
            assertEquals(Long.parseLong(digests.group(2)), Files.size(b), "size of " + digests.group(1));
            blobs.add(b);
        }
        assertEquals(3, blobs.size(), "config and two layers: " + manifest);
        String config = Files.readString(blobs.getFirst());
        assertTrue(config.contains("\"Entrypoint\":[\"/opt/migrationd/runtime/bin/java\""), config);
        // unpack the layers in order into a root file system and run the entry point in it
        Path rootfs = tmp.resolve("rootfs");
        Files.createDirectories(rootfs);
        for (Path layer : blobs.subList(1, blobs.size())) {
            Run x = run("tar", "-xzf", layer.toString(), "-C", rootfs.toString());
            assertEquals(0, x.code(), x.out());
        }
        Matcher entry = Pattern.compile("\"Entrypoint\":\\[(.*?)]").matcher(config);
        assertTrue(entry.find());
        // as a container runtime would: its own /proc (the dynamic loader resolves $ORIGIN through /proc/self/exe)
        // (root needs no user namespace, and cannot make one when it runs in a chroot itself)
        List<String> cmd = new ArrayList<>(List.of("unshare"));
        if (!"root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("--user", "--map-root-user"));
        }
        cmd.addAll(List.of("--mount", "--pid", "--fork", "--mount-proc=" + rootfs.resolve("proc"), "chroot", rootfs.toString()));
        for (String part : entry.group(1).split("\",\"")) {
            cmd.add(part.replace("\"", ""));
        }
        cmd.add("--version");
        Run version = run(cmd.toArray(String[]::new));
        assertEquals(0, version.code(), "the image's own libraries run its runtime: " + version.out());
        assertTrue(version.out().contains("migrationd"), version.out());
    }

    static Path blob(Path layout, String digest) throws Exception {
        Path b = layout.resolve("blobs/sha256").resolve(digest.substring("sha256:".length()));
        assertTrue(Files.isRegularFile(b), digest);
        assertEquals(digest, sha256(b), "content of " + digest);
        return b;
    }

    @Test
    void theUnitInTheTreeVerifiesAgainstItsLauncher() throws Exception {
        String unit = Files.readString(DIST.resolve("systemd/migrationd.service"))
                .replace("/usr/sbin/migrationd", DIST.resolve("bin/migrationd").toString());
        Path copy = tmp.resolve("migrationd.service");
        Files.writeString(copy, unit, StandardCharsets.UTF_8);
        Run r = run(BARE, tmp, "systemd-analyze", "verify", copy.toString());
        assertEquals(0, r.code(), r.out());
        assertEquals("", r.out().strip());
    }
}
