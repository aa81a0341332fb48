/**
 * How migrationd's log lines look: key=value text for people (the default) or one JSON object per line
 * ({@code --log-format json}), with journald priorities under systemd. Wired in {@code logback.xml}.
 */
package dev.migrationd.daemon.logging;
