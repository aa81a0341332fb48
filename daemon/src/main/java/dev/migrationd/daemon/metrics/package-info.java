/**
 * Metrics: every meter migrationd exports, declared once ({@link dev.migrationd.daemon.metrics.MigrationMeter}),
 * the one binder from the engine's observer callbacks to Micrometer
 * ({@link dev.migrationd.daemon.metrics.MetricsBinder}), and the Prometheus scrape endpoint
 * ({@link dev.migrationd.daemon.metrics.MetricsEndpoint}).
 *
 * <p>Threads: the binder is called on the migrations' threads, concurrently (meters and its gauge state
 * are thread-safe); the endpoint answers each scrape on a virtual thread.
 */
package dev.migrationd.daemon.metrics;
