/**
 * Failpoints: named places in the daemon where a fault-injection test can make the process crash,
 * hang, fail or pause. Off unless the daemon was started with {@code MIGRATIOND_FAILPOINTS} set; a
 * production daemon never reads anything else here.
 */
package dev.migrationd.daemon.engine.fault;
