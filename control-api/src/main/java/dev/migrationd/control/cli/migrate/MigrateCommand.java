package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.daemon.StreamFormatOption;
import dev.migrationd.control.cli.text.Converters;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationOptions;
import dev.migrationd.control.v1.Policy;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import dev.migrationd.control.v1.TimeoutAction;
import java.time.Duration;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl migrate DOMAIN --to HOST}: starts a live migration and follows it to the end. */
@Command(name = "migrate", mixinStandardHelpOptions = true, description = {
        "Live-migrates DOMAIN from the daemon's host to the peer HOST, printing one line per pre-copy round",
        "and a summary. Exits 0 only when the domain runs on the destination. Ctrl-C asks whether to cancel."})
public final class MigrateCommand extends DaemonCommand {

    @Parameters(index = "0", paramLabel = "DOMAIN", description = "A domain on the daemon's host.")
    String domain;

    @Option(names = "--to", required = true, paramLabel = "HOST", description = "Destination: a peer name in the daemon's configuration.")
    String destination;

    @Option(names = "--max-downtime", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Downtime target for the final round, e.g. 300ms (daemon default 300ms).")
    Duration maxDowntime;

    @Option(names = "--bandwidth", paramLabel = "RATE", converter = Converters.Rate.class,
            description = "Bandwidth cap, e.g. 1GiB/s; 0 = no cap (default).")
    Long bandwidth;

    @Option(names = "--max-rounds", paramLabel = "N", description = "Most pre-copy rounds (default: the policy's).")
    Integer maxRounds;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = Converters.Time.class,
            description = "Give up or force after this long, e.g. 10m (default: no limit).")
    Duration timeout;

    @Option(names = "--on-timeout", paramLabel = "abort|force", converter = Converters.TimeoutWords.class,
            completionCandidates = Converters.TimeoutWords.class,
            description = "At the timeout or the round limit: abort (the domain stays on the source; default) or force the final round.")
    TimeoutAction onTimeout;

    @Option(names = "--policy", paramLabel = "downtime|xen-legacy", converter = Converters.PolicyWords.class,
            completionCandidates = Converters.PolicyWords.class,
            description = "Pre-copy policy: downtime (default) or xen-legacy (xc_domain_save's limits).")
    Policy policy;

    @Mixin
    StreamFormatOption streamFormat;

    @Option(names = "--verify", description = "Resend every page after the last round; the destination compares.")
    boolean verify;

    @Option(names = "--name", paramLabel = "NAME", description = "The domain's name on the destination (default: the same).")
    String nameThere;

    @Option(names = "--detach", description = "Print the migration id and return once it has started.")
    boolean detach;

    @Option(names = "--idempotency-key", paramLabel = "KEY",
            description = "Key that makes a retried start return the same migration (default: a fresh UUID).")
    String idempotencyKey;

    @Override
    protected void validate() {
        if (maxRounds != null && maxRounds < 1) {
            throw usage("--max-rounds " + maxRounds + ": must be at least 1");
        }
        if (maxDowntime != null && (maxDowntime.isNegative() || maxDowntime.isZero())) {
            throw usage("--max-downtime must be positive");
        }
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw usage("--timeout must be positive");
        }
        if (bandwidth != null && bandwidth < 0) {
            throw usage("--bandwidth must not be negative");
        }
    }

    StartMigrationRequest request() {
        MigrationOptions.Builder o = MigrationOptions.newBuilder().setVerify(verify);
        if (policy != null) {
            o.setPolicy(policy);
        }
        if (maxDowntime != null) {
            o.setMaxDowntime(Render.proto(maxDowntime));
        }
        if (bandwidth != null) {
            o.setBandwidthBytesPerSecond(bandwidth);
        }
        if (maxRounds != null) {
            o.setMaxRounds(maxRounds);
        }
        if (timeout != null) {
            o.setTimeout(Render.proto(timeout));
        }
        if (onTimeout != null) {
            o.setOnTimeout(onTimeout);
        }
        if (streamFormat.get() != null) {
            o.setFormat(streamFormat.get());
        }
        return StartMigrationRequest.newBuilder().setDomain(domain).setDestination(destination).setOptions(o)
                .setDestinationName(nameThere != null ? nameThere : "")
                .setIdempotencyKey(idempotencyKey != null ? idempotencyKey : UUID.randomUUID().toString()).build();
    }

    @Override
    protected int call(Connection connection) throws Exception {
        StartMigrationRequest request = request();
        StartMigrationResponse started = Follower.startWithRetries(() -> connection.blocking().startMigration(request));
        Migration m = started.getMigration();
        return Follower.announceAndFollow(connection, started, (started.getCreated() ? "started" : "already started (same idempotency key)")
                + " migration " + m.getId() + ": " + m.getDomain() + " " + Render.route(m), detach, json(), out(), err());
    }
}
