package dev.migrationd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.migrationd.daemon.CliCapture;
import dev.migrationd.daemon.TwoDaemons;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus server (Debian's /usr/bin/prometheus, on a loopback port with a temporary config
 * and storage) scrapes hostA every second while migrationctl migrates a domain to hostB; PromQL over
 * the HTTP API then gives back the migration's rounds as the CLI printed them. Also {@code promtool
 * check metrics} on the live daemon's scrape.
 */
class PrometheusScrapeTest {

    static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");
    static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private String get(URI uri) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), uri + ": " + r.body());
        return r.body();
    }

    private JsonArray query(int port, String promql) throws Exception {
        String body = get(URI.create("http://127.0.0.1:" + port + "/api/v1/query?query="
                + URLEncoder.encode(promql, StandardCharsets.UTF_8)));
        JsonObject o = JsonParser.parseString(body).getAsJsonObject();
        assertEquals("success", o.get("status").getAsString(), body);
        return o.getAsJsonObject("data").getAsJsonArray("result");
    }

    private double scalar(int port, String promql) throws Exception {
        JsonArray r = query(port, promql);
        assertEquals(1, r.size(), promql + " -> " + r);
        return Double.parseDouble(r.get(0).getAsJsonObject().getAsJsonArray("value").get(1).getAsString());
    }

    private static String ctl(String... args) {
        return CliCapture.ok(args).out();
    }

    @Test
    void prometheusSeesTheRoundsOfAMigration() throws Exception {
        assertTrue(Files.isExecutable(PROMETHEUS), PROMETHEUS + " is missing: install the Debian package 'prometheus'");
        try (TwoDaemons daemons = new TwoDaemons(dir)) {
            int promPort = freePort();
            Path config = dir.resolve("prometheus.yml");
            Files.writeString(config, """
                    global:
                      scrape_interval: 1s
                      evaluation_interval: 1s
                    scrape_configs:
                      - job_name: migrationd
                        static_configs:
                          - targets: ['127.0.0.1:%d']
                    """.formatted(daemons.a.metricsPort()));
            Process prometheus = new ProcessBuilder(PROMETHEUS.toString(), "--config.file=" + config,
                    "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + promPort,
                    "--log.level=warn")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
            try {
                waitUntil("prometheus ready and scraping hostA", () -> {
                    try {
                        JsonArray up = query(promPort, "up{job=\"migrationd\"}");
                        return up.size() == 1 && up.get(0).getAsJsonObject().getAsJsonArray("value").get(1).getAsString().equals("1");
                    } catch (Exception | AssertionError e) {
                        return false;
                    }
                }, prometheus);

                ctl("domain", "create", "dom5", "--daemon", daemons.aAddr(), "--memory", "256MiB", "--dirty-rate", "40MiB/s",
                        "--working-set", "50%", "--pattern", "random");
                String out = ctl("migrate", "dom5", "--to", "hostB", "--daemon", daemons.aAddr());
                int rounds = 0;
                int lastRound = -1;
                long sentPages = 0;
                Matcher m = Pattern.compile("^round +(\\d+) +dirty +[\\d,]+ pages +sent +([\\d,]+) pages", Pattern.MULTILINE).matcher(out);
                while (m.find()) {
                    rounds++;
                    lastRound = Integer.parseInt(m.group(1));
                    sentPages += Long.parseLong(m.group(2).replace(",", ""));
                }
                assertTrue(rounds >= 1, out);
                // the rounds are in the daemon's registry now; wait for a scrape that has them
                String sel = "{job=\"migrationd\",host=\"hostA\",direction=\"outgoing\",guest_type=\"hvm\"}";
                final int expectedRounds = rounds;
                String succeeded = "migrationd_migrations_finished_total{job=\"migrationd\",host=\"hostA\","
                        + "direction=\"outgoing\",guest_type=\"hvm\",outcome=\"succeeded\"}";
                waitUntil("a scrape with all " + rounds + " rounds and the outcome", () -> {
                    try {
                        return scalar(promPort, "migrationd_round_dirty_pages_count" + sel) == expectedRounds
                                && scalar(promPort, succeeded) == 1;
                    } catch (Exception | AssertionError e) {
                        return false;
                    }
                }, prometheus);
                assertEquals(sentPages, scalar(promPort, "migrationd_round_sent_pages_sum" + sel));
                assertEquals(lastRound, scalar(promPort, "max_over_time(migrationd_round_last_number" + sel + "[5m])"));
                assertEquals(0, scalar(promPort, succeeded.replace("succeeded", "failed")));
                // the per-round gauge as a series over the migration: one sample per scrape, latest round's pages sent
                JsonArray series = query(promPort, "migrationd_round_last_sent_pages" + sel + "[5m]");
                assertEquals(1, series.size(), series.toString());
                JsonArray samples = series.get(0).getAsJsonObject().getAsJsonArray("values");
                assertTrue(samples.size() >= 1, series.toString());
                double lastSample = Double.parseDouble(samples.get(samples.size() - 1).getAsJsonArray().get(1).getAsString());
                assertTrue(lastSample > 0, "latest round sent pages: " + series);

                // the live daemon's scrape passes promtool too
                String scrape = get(URI.create("http://127.0.0.1:" + daemons.a.metricsPort() + "/metrics"));
                assertEquals(List.of(), MetricsBinderTest.promtoolCheckMetrics(scrape));
            } finally {
                prometheus.destroy();
                if (!prometheus.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly().waitFor();
                }
            }
        }
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private void waitUntil(String what, Check check, Process prometheus) throws Exception {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!prometheus.isAlive()) {
                throw new AssertionError("prometheus exited " + prometheus.exitValue() + ": "
                        + Files.readString(dir.resolve("prometheus.log")));
            }
            if (check.ok()) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("timed out waiting for " + what + "; prometheus log: " + Files.readString(dir.resolve("prometheus.log")));
    }
}
