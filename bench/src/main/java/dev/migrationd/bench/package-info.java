/** JMH benchmarks; run with {@code bench/run}. */
package dev.migrationd.bench;
