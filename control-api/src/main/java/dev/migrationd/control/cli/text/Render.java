package dev.migrationd.control.cli.text;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.migrationd.control.v1.Direction;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationResult;
import dev.migrationd.control.v1.Outcome;
import dev.migrationd.control.v1.RoundStats;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/** How API messages look on a terminal (text) and to scripts (one JSON object per line). */
public final class Render {

    private static final JsonFormat.Printer JSON = JsonFormat.printer()
            .omittingInsignificantWhitespace()
            .alwaysPrintFieldsWithNoPresence();

    private Render() {
    }

    public static String json(MessageOrBuilder message) {
        try {
            return JSON.print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot print " + message.getClass().getSimpleName() + " as JSON", e);
        }
    }

    public static Duration duration(com.google.protobuf.Duration d) {
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    public static com.google.protobuf.Duration proto(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }

    /** An API enum's value without its prefix: {@code PHASE_PRECOPY} → {@code PRECOPY}, {@code GUEST_TYPE_HVM} → {@code HVM}. */
    public static String name(Enum<?> e) {
        String prefix = e.getClass().getSimpleName().replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT) + "_";
        String n = e.name();
        return n.equals("UNRECOGNIZED") ? "UNKNOWN" : n.startsWith(prefix) ? n.substring(prefix.length()) : n;
    }

    public static String lower(Enum<?> e) {
        return name(e).toLowerCase(Locale.ROOT);
    }

    /** One progress line per round: round, dirty pages, pages sent, rates, expected downtime, ETA. */
    public static String round(RoundStats r) {
        double bandwidth = r.getBandwidthBytesPerSecond();
        String eta = bandwidth > 0
                ? Units.formatDuration(Duration.ofMillis((long) (r.getPagesRemaining() * 4096.0 / bandwidth * 1000)))
                : "?";
        return String.format(Locale.ROOT,
                "round %3d  dirty %,10d pages  sent %,10d pages (%s) in %s  dirty rate %s  bandwidth %s  expected downtime %s  ETA %s",
                r.getRound(), r.getPagesDirtied(), r.getPagesSent(), Units.formatBytes(r.getBytesSent()),
                Units.formatDuration(duration(r.getDuration())), Units.formatRate(r.getDirtyRateBytesPerSecond()),
                Units.formatRate(bandwidth), Units.formatDuration(duration(r.getExpectedDowntime())), eta)
                + (r.getThrottlePercent() > 0 ? "  throttle " + r.getThrottlePercent() + "%" : "")
                + (r.getWireBytes() > 0 && r.getWireBytes() != r.getBytesSent()
                        ? "  on the wire " + Units.formatBytes(r.getWireBytes()) : "");
    }

    /** The final summary of a migration. */
    public static String summary(Migration m) {
        MigrationResult r = m.getResult();
        StringBuilder b = new StringBuilder();
        if (m.getDirection() == Direction.DIRECTION_SAVE || m.getDirection() == Direction.DIRECTION_RESTORE) {
            boolean save = m.getDirection() == Direction.DIRECTION_SAVE;
            b.append(save ? "save " : "restore ").append(m.getId()).append(' ').append(m.getDomain()).append(' ')
                    .append(route(m)).append(": ").append(name(r.getOutcome()));
            b.append(String.format(Locale.ROOT, "%n  total time %s, %s %s", Units.formatDuration(duration(r.getTotalTime())),
                    Units.formatBytes(r.getBytesSent()), save ? "written" : "read"));
            if (save) {
                b.append(String.format(Locale.ROOT, ", %d rounds, paused %s", r.getRounds(),
                        Units.formatDuration(duration(r.getDowntimeSource()))));
            }
            b.append(String.format("%n  %s", fileOutcome(save, r.getOutcome())));
            if (!r.getMessage().isEmpty()) {
                b.append(String.format("%n  reason: %s", r.getMessage()));
            }
            return b.toString();
        }
        b.append("migration ").append(m.getId()).append(' ').append(m.getDomain()).append(' ')
                .append(route(m)).append(": ").append(name(r.getOutcome()));
        b.append(String.format(Locale.ROOT, "%n  total time %s%s, downtime %s (source) / %s (destination), %d rounds, %s sent",
                Units.formatDuration(duration(r.getTotalTime())),
                r.hasSetupTime() ? " (set-up " + Units.formatDuration(duration(r.getSetupTime())) + ")" : "",
                Units.formatDuration(duration(r.getDowntimeSource())),
                Units.formatDuration(duration(r.getDowntimeDestination())), r.getRounds(), Units.formatBytes(r.getBytesSent())));
        if (!r.getCompression().isEmpty()) {
            b.append(String.format(Locale.ROOT, "%n  compression %s", r.getCompression()));
            if (r.getBytesSent() > 0 && r.getWireBytes() > 0) {
                b.append(String.format(Locale.ROOT, ": %s on the wire (%.1f%% of the stream)", Units.formatBytes(r.getWireBytes()),
                        100.0 * r.getWireBytes() / r.getBytesSent()));
            }
        }
        if (!r.getMessage().isEmpty()) {
            b.append(String.format("%n  reason: %s", r.getMessage()));
        }
        return b.toString();
    }

    /** What a save's or restore's outcome means for the guest and the file, in words. */
    static String fileOutcome(boolean save, Outcome o) {
        if (o == Outcome.OUTCOME_SUCCEEDED) {
            return save ? "the file is complete; the domain was destroyed, or resumed if asked to keep running"
                    : "the domain exists on this host";
        }
        return save ? "no file was written; the domain is as it was before the save" : "no domain was left behind";
    }

    public static String route(Migration m) {
        if (!m.getFile().isEmpty()) {
            String host = m.getDirection() == Direction.DIRECTION_SAVE ? m.getSourceHost() : m.getDestinationHost();
            return m.getDirection() == Direction.DIRECTION_SAVE ? host + " -> " + m.getFile() : m.getFile() + " -> " + host;
        }
        return (m.getSourceHost().isEmpty() ? "?" : m.getSourceHost()) + " -> "
                + (m.getDestinationHost().isEmpty() ? "?" : m.getDestinationHost());
    }

    /** {@code status}: every field a person needs. */
    public static String status(Migration m) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("migration  %s%n", m.getId()));
        b.append(String.format("domain     %s%n", m.getDomain()));
        b.append(String.format("route      %s (%s)%n", route(m), lower(m.getDirection())));
        b.append(String.format("phase      %s%n", name(m.getPhase())));
        if (!m.getPhaseDetail().isEmpty()) {
            b.append(String.format("why        %s%n", m.getPhaseDetail()));
        }
        if (m.hasStartedAt()) {
            b.append(String.format("started    %s%n", Instant.ofEpochSecond(m.getStartedAt().getSeconds(), m.getStartedAt().getNanos())));
        }
        if (!m.getIdempotencyKey().isEmpty()) {
            b.append(String.format("key        %s%n", m.getIdempotencyKey()));
        }
        if (m.hasLastRound()) {
            b.append(String.format("last round %s%n", round(m.getLastRound()).trim()));
        }
        if (m.hasResult()) {
            b.append(summary(m)).append(System.lineSeparator());
        }
        return b.toString().stripTrailing();
    }

    public static String migrationTable(List<Migration> migrations) {
        StringBuilder b = new StringBuilder(String.format("%-36s  %-12s  %-8s  %-20s  %-13s  %-24s%n",
                "ID", "DOMAIN", "DIR", "ROUTE", "PHASE", "STARTED"));
        for (Migration m : migrations) {
            b.append(String.format("%-36s  %-12s  %-8s  %-20s  %-13s  %-24s%n", m.getId(), m.getDomain(),
                    lower(m.getDirection()), route(m), name(m.getPhase()),
                    m.hasStartedAt() ? Instant.ofEpochSecond(m.getStartedAt().getSeconds()).toString() : "-"));
            if (!m.getPhaseDetail().isEmpty()) {
                b.append(String.format("  %s: %s%n", name(m.getPhase()), m.getPhaseDetail()));
            }
        }
        return b.toString().stripTrailing();
    }

    public static String domainTable(List<Domain> domains) {
        StringBuilder b = new StringBuilder(String.format("%-16s  %5s  %-36s  %10s  %5s  %-4s  %5s  %-8s%n",
                "NAME", "ID", "UUID", "MEMORY", "VCPUS", "TYPE", "WIDTH", "STATE"));
        for (Domain d : domains) {
            b.append(String.format("%-16s  %5d  %-36s  %10s  %5d  %-4s  %5d  %-8s%n", d.getName(), d.getDomid(),
                    d.getUuid(), Units.formatBytes(d.getMemoryBytes()), d.getVcpus(),
                    lower(d.getGuestType()), d.getGuestWidthBits(),
                    lower(d.getState())
                            + (d.getMigrating() ? "*" : "")));
        }
        return b.toString().stripTrailing();
    }
}
