/**
 * {@code save} and {@code restore}: a domain to and from a save-stream file, written and read by the daemon on its
 * own host (a relative path is made absolute by the CLI).
 */
package dev.migrationd.control.cli.file;
