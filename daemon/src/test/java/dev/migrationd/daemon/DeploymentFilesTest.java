package dev.migrationd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.metrics.MetricsBinder;
import dev.migrationd.protocol.GuestType;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The files in deploy/ and systemd/ are checked with the tools that will read them: promtool (rules, rule
 * unit tests, scrape config), systemd-analyze verify (the unit), and against the daemon itself (every
 * metric a rule or panel uses is one the daemon exports; every flag a manifest passes exists; the
 * example configs load).
 */
class DeploymentFilesTest {

    static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    static final Path DEPLOY = ROOT.resolve("deploy");
    static final Path SYSTEMD = ROOT.resolve("systemd");

    @TempDir
    Path tmp;

    record Run(int code, String output) {
    }

    static Run run(Path dir, String... command) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(Path.of(command[0])), command[0] + " is missing (Debian: prometheus / systemd)");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    @Test
    void promtoolChecksTheRules() throws Exception {
        Run r = run(DEPLOY.resolve("prometheus"), "/usr/bin/promtool", "check", "rules", "migrationd.rules.yml");
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("SUCCESS"), r.output());
    }

    @Test
    void theAlertsFireOnTheirScenarios() throws Exception {
        Run r = run(DEPLOY.resolve("prometheus"), "/usr/bin/promtool", "test", "rules", "migrationd.rules.test.yml");
        assertEquals(0, r.code(), r.output());
    }

    @Test
    void promtoolChecksTheScrapeConfig() throws Exception {
        Run r = run(DEPLOY.resolve("prometheus"), "/usr/bin/promtool", "check", "config", "prometheus.yml");
        assertEquals(0, r.code(), r.output());
    }

    /** The unit as installed, with ExecStart pointed at the launcher in this tree (verify wants it to exist). */
    private Path unitHere() throws IOException {
        String unit = Files.readString(SYSTEMD.resolve("migrationd.service"));
        assertTrue(unit.contains("ExecStart=/usr/sbin/migrationd "), "ExecStart changed; update this test");
        assertTrue(unit.contains("EnvironmentFile=-/etc/default/migrationd"));
        Path launcher = ROOT.resolve("bin/migrationd");
        assertTrue(Files.isExecutable(launcher));
        Path copy = tmp.resolve("migrationd.service");
        Files.writeString(copy, unit.replace("/usr/sbin/migrationd", launcher.toString()));
        return copy;
    }

    @Test
    void systemdAnalyzeVerifiesTheUnit() throws Exception {
        Path unit = unitHere();
        Run r = run(tmp, "/usr/bin/systemd-analyze", "verify", unit.toString());
        assertEquals(0, r.code(), r.output());
        assertEquals("", r.output().strip(), "systemd-analyze complaints");
        // and with the xen drop-in applied
        Path dropIns = tmp.resolve("migrationd.service.d");
        Files.createDirectories(dropIns);
        Files.copy(SYSTEMD.resolve("xen.conf"), dropIns.resolve("xen.conf"));
        r = run(tmp, "/usr/bin/systemd-analyze", "verify", unit.toString());
        assertEquals(0, r.code(), r.output());
        assertEquals("", r.output().strip(), "systemd-analyze complaints with the xen drop-in");
    }

    /** Exposure score at most this (systemd's scale: 0 = locked down … 10 = fully exposed; "OK" is below 5). */
    static final double MAX_EXPOSURE = 4.0;

    @Test
    void systemdAnalyzeSecurityRatesTheUnitAtMostFour() throws Exception {
        Path unit = unitHere();
        Run r = run(tmp, "/usr/bin/systemd-analyze", "security", "--offline=true", "--no-pager", unit.toString());
        Matcher m = Pattern.compile("Overall exposure level for \\S+: (\\d+\\.\\d+)").matcher(r.output());
        assertTrue(m.find(), r.output());
        double exposure = Double.parseDouble(m.group(1));
        assertTrue(exposure <= MAX_EXPOSURE, "exposure " + exposure + " > " + MAX_EXPOSURE + ":\n" + r.output());
        // the threshold option makes the tool itself fail above it, as a CI step would use it
        r = run(tmp, "/usr/bin/systemd-analyze", "security", "--offline=true", "--threshold=40", "--no-pager", unit.toString());
        assertEquals(0, r.code(), r.output());
    }

    @Test
    void theUnitRestartsOnlyWhenItMayHelpAndReportsReadiness() throws Exception {
        String unit = Files.readString(SYSTEMD.resolve("migrationd.service"));
        assertTrue(unit.contains("\nType=notify\n"), "readiness through sd_notify");
        assertTrue(unit.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"));
        assertTrue(unit.contains("\nRestartPreventExitStatus=" + MigrationDaemon.EXIT_CONFIG + " "
                + MigrationDaemon.EXIT_BACKEND_UNAVAILABLE + "\n"), "the daemon's permanent exit codes");
        assertTrue(unit.contains("\nUser=migrationd\n"));
        // the control socket's directory, and no private user namespace (it would hide callers' uids)
        assertTrue(unit.contains("\nRuntimeDirectory=migrationd\n"));
        assertFalse(unit.contains("\nPrivateUsers=yes"), "roles are decided by the caller's uid");
        assertTrue(unit.contains("\nReadWritePaths=-/srv/migrationd\n"), "the README's save directory");
    }

    @Test
    void theEnvironmentFileDefinesWhatTheUnitUses() throws Exception {
        String env = Files.readString(SYSTEMD.resolve("migrationd.default"));
        for (String var : List.of("MIGRATIOND_CONFIG", "MIGRATIOND_OPTS", "MIGRATIOND_JAVA_OPTS")) {
            assertTrue(Pattern.compile("^" + var + "=", Pattern.MULTILINE).matcher(env).find(), var);
        }
    }

    /** Every series name the daemon exports (after one migration, so that every meter exists). */
    static Set<String> exportedNames() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MetricsBinder b = new MetricsBinder(registry);
        MigrationInfo m = new MigrationInfo("x", null, "d", "p", Direction.OUTGOING, GuestType.HVM, MigrationOptions.DEFAULTS,
                Instant.now());
        b.phaseChanged(m, null, new MigrationPhase.PreCopy(0));
        b.roundCompleted(m, new RoundStats(0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0));
        b.finished(m, new MigrationResult(MigrationResult.Outcome.SUCCEEDED, "", Duration.ofSeconds(1),
                MigrationResult.Downtime.NONE, 1, 1));
        Set<String> names = new TreeSet<>();
        for (String line : registry.scrape().lines().toList()) {
            if (!line.startsWith("#") && !line.isBlank()) {
                names.add(line.replaceAll("[{ ].*", ""));
            }
        }
        return names;
    }

    static Set<String> referencedMetrics(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("\\bmigrationd_[a-z_]+").matcher(text);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }

    @Test
    void rulesAndDashboardUseOnlyExportedMetrics() throws Exception {
        Set<String> exported = exportedNames();
        String rules = Files.readString(DEPLOY.resolve("prometheus/migrationd.rules.yml"));
        String dashboard = Files.readString(DEPLOY.resolve("grafana/migrationd-dashboard.json"));
        Set<String> used = new TreeSet<>(referencedMetrics(rules));
        used.addAll(referencedMetrics(dashboard));
        assertTrue(used.size() > 10, "found too few references: " + used);
        List<String> unknown = new ArrayList<>();
        for (String u : used) {
            if (!exported.contains(u)) {
                unknown.add(u);
            }
        }
        assertEquals(List.of(), unknown, "referenced but not exported (exported: " + exported + ")");
    }

    @Test
    void dashboardHasThePanelsTheOperatorsNeed() throws Exception {
        JsonObject d = JsonParser.parseString(Files.readString(DEPLOY.resolve("grafana/migrationd-dashboard.json"))).getAsJsonObject();
        List<String> titles = new ArrayList<>();
        for (JsonElement p : d.getAsJsonArray("panels")) {
            JsonObject panel = p.getAsJsonObject();
            titles.add(panel.get("title").getAsString());
            assertTrue(panel.getAsJsonArray("targets").size() > 0, panel.get("title") + " has no query");
        }
        for (String need : List.of("Dirty pages and pages sent per round", "Dirty rate vs bandwidth",
                "Expected vs actual downtime", "Outcomes")) {
            assertTrue(titles.contains(need), "panel '" + need + "' missing: " + titles);
        }
    }

    @Test
    void exampleConfigsLoad() throws Exception {
        DaemonConfig a = DaemonConfig.resolve(DEPLOY.resolve("config/hostA.conf"), Map.of(), List.of());
        DaemonConfig b = DaemonConfig.resolve(DEPLOY.resolve("config/hostB.conf"), Map.of(), List.of());
        assertEquals("hostA", a.name());
        assertEquals(b.peerListen(), a.peers().get("hostB"));
        assertEquals(a.peerListen(), b.peers().get("hostA"));
    }

    @Test
    void daemonSetPassesOnlyRealFlags() throws Exception {
        String yaml = Files.readString(DEPLOY.resolve("kubernetes/migrationd-daemonset.yaml"));
        CommandLine cl = new CommandLine(new MigrationDaemon());
        Matcher m = Pattern.compile("^\\s*- (--[a-z-]+)=", Pattern.MULTILINE).matcher(yaml);
        int n = 0;
        while (m.find()) {
            assertTrue(cl.getCommandSpec().findOption(m.group(1)) != null, "migrationd has no option " + m.group(1));
            n++;
        }
        assertTrue(n >= 3, "expected the DaemonSet to pass flags");
        assertTrue(yaml.contains("kind: DaemonSet") && yaml.contains("hostNetwork: true"));
        // the image the build writes (dist/make-oci.sh), tagged with the project's version
        String version = new String(Files.readAllBytes(ROOT.resolve("pom.xml")), StandardCharsets.UTF_8)
                .replaceAll("(?s).*?<artifactId>migrationd-parent</artifactId>\\s*<version>([^<]+)</version>.*", "$1");
        assertTrue(yaml.contains("\n          image: migrationd:" + version + "\n"), "image migrationd:" + version);
        // probes ask the gRPC health service on the health-only listener, never a TCP connect to the peer port
        assertTrue(yaml.contains("--health-listen=$(NODE_IP):7102"));
        for (String probe : List.of("startupProbe", "readinessProbe", "livenessProbe")) {
            Matcher p = Pattern.compile(probe + ":\\n\\s+grpc: \\{port: 7102").matcher(yaml);
            assertTrue(p.find(), probe + " uses the gRPC health service");
        }
        assertFalse(yaml.contains("tcpSocket"), "no TCP-connect probes");
        // the peer link needs its certificates: the Secret is mounted where tls-ca, --tls-cert and --tls-key point
        assertTrue(yaml.contains("secret: {secretName: migrationd-tls"), "the certificates come from a Secret");
        assertTrue(yaml.contains("- {name: tls, mountPath: /etc/migrationd/tls, readOnly: true}"));
        assertTrue(yaml.contains("tls-ca         = /etc/migrationd/tls/ca.pem"));
        assertTrue(yaml.contains("- --tls-cert=/etc/migrationd/tls/$(NODE_NAME).pem")
                && yaml.contains("- --tls-key=/etc/migrationd/tls/$(NODE_NAME).key"));
        // the control API is the node's Unix socket, never a network address
        assertTrue(yaml.contains("control-listen = unix:/run/migrationd/control.sock"));
        assertTrue(yaml.contains("hostPath: {path: /run/migrationd, type: DirectoryOrCreate}"));
    }
}
