/** migrationd: the per-host daemon (issue 4). */
package dev.migrationd.daemon;
