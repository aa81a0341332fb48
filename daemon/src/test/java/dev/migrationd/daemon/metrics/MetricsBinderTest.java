package dev.migrationd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationResult;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.protocol.GuestType;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The binder against a real Prometheus registry: names, tags, values, and {@code promtool check metrics}. */
class MetricsBinderTest {

    static final String PROMTOOL = "/usr/bin/promtool";

    private PrometheusMeterRegistry registry;
    private MetricsBinder binder;

    @BeforeEach
    void setUp() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("host", "hostA");
        binder = new MetricsBinder(registry);
    }

    static MigrationInfo info(String id, Direction d) {
        return new MigrationInfo(id, null, "dom7", "hostB", d, GuestType.HVM, MigrationOptions.DEFAULTS, Instant.now());
    }

    private void runMigration(String id, MigrationResult.Outcome outcome) {
        MigrationInfo m = info(id, Direction.OUTGOING);
        binder.phaseChanged(m, null, new MigrationPhase.Offered());
        binder.phaseChanged(m, new MigrationPhase.Offered(), new MigrationPhase.PreCopy(0));
        binder.roundCompleted(m, new RoundStats(0, 1000, 1000, 4_100_000, 100_000_000, 0, 41e6, 50_000_000, 200, 4_100_000, 100_000_000, 1000, 0));
        binder.roundCompleted(m, new RoundStats(1, 200, 200, 820_000, 20_000_000, 2000, 41e6, 10_000_000, 40, 4_920_000, 120_000_000, 1000, 20));
        binder.phaseChanged(m, new MigrationPhase.PreCopy(1), new MigrationPhase.StopAndCopy());
        binder.phaseChanged(m, new MigrationPhase.StopAndCopy(), outcome == MigrationResult.Outcome.SUCCEEDED
                ? new MigrationPhase.Done() : new MigrationPhase.Failed("x"));
        binder.finished(m, new MigrationResult(outcome, "", Duration.ofSeconds(2),
                new MigrationResult.Downtime(Duration.ofMillis(30), Duration.ofMillis(5), Duration.ofMillis(5), Duration.ofMillis(10)),
                2, 4_920_000));
    }

    static double value(String scrape, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(scrape);
        assertTrue(m.find(), "no series " + series + " in\n" + scrape);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void roundsAndOutcomesAreExported() {
        runMigration("m-1", MigrationResult.Outcome.SUCCEEDED);
        runMigration("m-2", MigrationResult.Outcome.FAILED);
        String s = registry.scrape();
        String t = "direction=\"outgoing\",guest_type=\"hvm\",host=\"hostA\"";
        assertEquals(4, value(s, "migrationd_round_dirty_pages_count{" + t + "}"));
        assertEquals(2400, value(s, "migrationd_round_dirty_pages_sum{" + t + "}"));
        assertEquals(2400, value(s, "migrationd_round_sent_pages_sum{" + t + "}"));
        assertEquals(2 * 4_920_000, value(s, "migrationd_round_stream_bytes_sum{" + t + "}"));
        assertEquals(0.24, value(s, "migrationd_round_duration_seconds_sum{" + t + "}"), 1e-9);
        assertEquals(2 * 2000 * 4096, value(s, "migrationd_round_dirty_rate_bytes_per_second_sum{" + t + "}"));
        assertEquals(1, value(s, "migrationd_round_last_number{" + t + "}"));
        assertEquals(200, value(s, "migrationd_round_last_dirty_pages{" + t + "}"));
        assertEquals(0.01, value(s, "migrationd_round_last_expected_downtime_seconds{" + t + "}"), 1e-12);
        assertEquals(1, value(s, "migrationd_migrations_finished_total{" + t + ",outcome=\"succeeded\"}"));
        assertEquals(1, value(s, "migrationd_migrations_finished_total{" + t + ",outcome=\"failed\"}"));
        assertEquals(0, value(s, "migrationd_migrations_finished_total{direction=\"incoming\",guest_type=\"pv\",host=\"hostA\",outcome=\"aborted\"}"));
        assertEquals(1, value(s, "migrationd_migration_downtime_seconds_count{" + t + "}"), "downtime of successes only");
        assertEquals(0.05, value(s, "migrationd_migration_downtime_seconds_sum{" + t + "}"), 1e-9);
        assertEquals(2 * 4_920_000, value(s, "migrationd_migration_stream_bytes_total{" + t + "}"));
        assertEquals(4, value(s, "migrationd_migration_rounds_sum{" + t + "}"));
        assertEquals(0, value(s, "migrationd_migrations_active{direction=\"outgoing\",host=\"hostA\"}"));
        assertFalse(s.contains("m-1"), "no migration id in any series");
    }

    @Test
    void activeFollowsPhasesAndInDoubtFollowsTheEnginesInDoubtCases() {
        MigrationInfo a = info("a", Direction.OUTGOING);
        MigrationInfo b = info("b", Direction.INCOMING);
        binder.phaseChanged(a, null, new MigrationPhase.Offered());
        binder.phaseChanged(b, null, new MigrationPhase.Offered());
        binder.phaseChanged(a, new MigrationPhase.Committing(), new MigrationPhase.InDoubt("no Running"));
        binder.inDoubt(a, true);
        // recovered after a restart: in doubt without a live run behind it
        binder.inDoubt(info("r", Direction.OUTGOING), true);
        String s = registry.scrape();
        assertEquals(1, value(s, "migrationd_migrations_active{direction=\"outgoing\",host=\"hostA\"}"));
        assertEquals(1, value(s, "migrationd_migrations_active{direction=\"incoming\",host=\"hostA\"}"));
        assertEquals(2, value(s, "migrationd_migrations_in_doubt{host=\"hostA\"}"));
        binder.inDoubt(a, false);
        binder.phaseChanged(a, new MigrationPhase.InDoubt("no Running"), new MigrationPhase.Done());
        s = registry.scrape();
        assertEquals(1, value(s, "migrationd_migrations_in_doubt{host=\"hostA\"}"));
        assertEquals(0, value(s, "migrationd_migrations_active{direction=\"outgoing\",host=\"hostA\"}"));
        binder.inDoubt(info("r", Direction.OUTGOING), false);
        assertEquals(0, value(registry.scrape(), "migrationd_migrations_in_doubt{host=\"hostA\"}"));
    }

    @Test
    void migrationsNeedingAnOperatorAreCountedByReasonUntilCleared() {
        MigrationInfo a = info("a", Direction.OUTGOING);
        MigrationInfo b = info("b", Direction.OUTGOING);
        String s = registry.scrape();
        assertEquals(0, value(s, "migrationd_migrations_needing_operator{host=\"hostA\",reason=\"in_doubt_unknown\"}"));
        binder.attention(a, dev.migrationd.daemon.engine.run.Attention.IN_DOUBT_UNKNOWN, true);
        binder.attention(b, dev.migrationd.daemon.engine.run.Attention.IN_DOUBT_UNKNOWN, true);
        binder.attention(b, dev.migrationd.daemon.engine.run.Attention.DESTROY_FAILED, true);
        s = registry.scrape();
        assertEquals(2, value(s, "migrationd_migrations_needing_operator{host=\"hostA\",reason=\"in_doubt_unknown\"}"));
        assertEquals(1, value(s, "migrationd_migrations_needing_operator{host=\"hostA\",reason=\"destroy_failed\"}"));
        binder.attention(a, dev.migrationd.daemon.engine.run.Attention.IN_DOUBT_UNKNOWN, false);
        s = registry.scrape();
        assertEquals(1, value(s, "migrationd_migrations_needing_operator{host=\"hostA\",reason=\"in_doubt_unknown\"}"));
        assertEquals(0, value(s, "migrationd_migrations_needing_operator{host=\"hostA\",reason=\"undecided\"}"));
    }

    @Test
    void everyDeclaredMeterIsExportedWithItsHelp() {
        runMigration("m-1", MigrationResult.Outcome.SUCCEEDED);
        MigrationInfo d = info("d", Direction.OUTGOING);
        binder.phaseChanged(d, null, new MigrationPhase.InDoubt("x"));
        String s = registry.scrape();
        for (MigrationMeter m : MigrationMeter.values()) {
            String prefix = m.meterName().replace('.', '_');
            assertTrue(s.contains("# HELP " + prefix), m + " (" + prefix + ") missing from the scrape");
            assertTrue(s.contains(m.description()), m + " without its description");
        }
    }

    @Test
    void meterNamesAreDistinct() {
        assertEquals(MigrationMeter.values().length,
                java.util.Arrays.stream(MigrationMeter.values()).map(MigrationMeter::meterName).distinct().count());
    }

    @Test
    void promtoolAcceptsTheScrapeServedOverHttp() throws Exception {
        runMigration("m-1", MigrationResult.Outcome.SUCCEEDED);
        try (MetricsEndpoint endpoint = MetricsEndpoint.start(new java.net.InetSocketAddress("127.0.0.1", 0), registry)) {
            HttpClient http = HttpClient.newHttpClient();
            URI base = URI.create("http://127.0.0.1:" + endpoint.address().getPort());
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
            assertEquals(404, http.send(HttpRequest.newBuilder(base.resolve("/other")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(405, http.send(HttpRequest.newBuilder(base.resolve("/metrics"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            List<String> out = promtoolCheckMetrics(r.body());
            assertEquals(List.of(), out, "promtool check metrics complaints");
        }
    }

    /** Runs {@code promtool check metrics} on {@code text}; returns its complaints (fails loudly without promtool). */
    static List<String> promtoolCheckMetrics(String text) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(Path.of(PROMTOOL)), PROMTOOL + " is missing: install the Debian package 'prometheus'");
        Process p = new ProcessBuilder(PROMTOOL, "check", "metrics").redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(text.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
        if (rc != 0 && lines.isEmpty()) {
            return List.of("promtool exited " + rc);
        }
        return lines;
    }
}
