package dev.migrationd.daemon.metrics;

import java.util.List;

/**
 * Every meter migrationd exports, declared once: its Micrometer name, type, base unit,
 * tag keys and help text. The Prometheus name follows from Micrometer's conventions: dots become
 * underscores, the base unit is appended, counters get {@code _total}, timers are in seconds, and
 * summaries and timers export {@code _count}, {@code _sum} and {@code _max}. Micrometer identifies a
 * meter by name and tags only (not unit), so every name here is distinct.
 *
 * <p>Tags are bounded: {@code direction} (outgoing, incoming), {@code guest_type} (pv, hvm),
 * {@code outcome} (succeeded, failed, cancelled, aborted), {@code reason} (the {@code Attention} values in lower
 * case: in_doubt_unknown, unpause_failed, destroy_failed, undecided). A migration id is never a tag: per-migration
 * detail is in the control API; the {@code *_last_*} gauges follow the latest round of any migration of
 * that direction and guest type, which is one migration at a time on most hosts.
 *
 * <pre>
 * Prometheus name                                   type     tags
 * migrationd_round_dirty_pages_{count,sum,max}      summary  direction, guest_type
 * migrationd_round_sent_pages_{count,sum,max}       summary  direction, guest_type
 * migrationd_round_stream_bytes_{count,sum,max}     summary  direction, guest_type
 * migrationd_round_wire_bytes_{count,sum,max}       summary  direction, guest_type
 * migrationd_round_duration_seconds_{count,sum,max} timer    direction, guest_type
 * migrationd_round_dirty_rate_bytes_per_second      summary  direction, guest_type
 * migrationd_round_bandwidth_bytes_per_second       summary  direction, guest_type
 * migrationd_round_expected_downtime_seconds        timer    direction, guest_type
 * migrationd_round_last_number                      gauge    direction, guest_type
 * migrationd_round_last_dirty_pages                 gauge    direction, guest_type
 * migrationd_round_last_sent_pages                  gauge    direction, guest_type
 * migrationd_round_last_dirty_rate_bytes_per_second gauge    direction, guest_type
 * migrationd_round_last_bandwidth_bytes_per_second  gauge    direction, guest_type
 * migrationd_round_last_expected_downtime_seconds   gauge    direction, guest_type
 * migrationd_migration_duration_seconds             timer    direction, guest_type, outcome
 * migrationd_migration_downtime_seconds             timer    direction, guest_type
 * migrationd_migration_rounds_{count,sum,max}      summary  direction, guest_type
 * migrationd_migration_stream_bytes_total           counter  direction, guest_type
 * migrationd_migration_wire_bytes_total             counter  direction, guest_type, compression
 * migrationd_migrations_finished_total              counter  direction, guest_type, outcome
 * migrationd_migrations_active                      gauge    direction
 * migrationd_migrations_in_doubt                    gauge    (none)
 * migrationd_migrations_needing_operator            gauge    reason
 * </pre>
 */
public enum MigrationMeter {

    // ---- per pre-copy round (source) ---------------------------------------------------------------
    ROUND_DIRTY_PAGES("migrationd.round.dirty.pages", Type.SUMMARY, null,
            "Pages the dirty log reported for a pre-copy round (round 0: populated pages)", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_SENT_PAGES("migrationd.round.sent.pages", Type.SUMMARY, null,
            "Pages sent in a pre-copy round", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_SENT_BYTES("migrationd.round.stream", Type.SUMMARY, "bytes",
            "Stream bytes written in a pre-copy round", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_WIRE_BYTES("migrationd.round.wire", Type.SUMMARY, "bytes",
            "Bytes a pre-copy round took on the wire: its stream bytes after compression", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_DURATION("migrationd.round.duration", Type.TIMER, "seconds",
            "Wall time of a pre-copy round", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_DIRTY_RATE("migrationd.round.dirty.rate", Type.SUMMARY, "bytes.per.second",
            "How fast the guest dirtied memory during a round", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_BANDWIDTH("migrationd.round.bandwidth", Type.SUMMARY, "bytes.per.second",
            "Measured send rate of a round", Tag.DIRECTION, Tag.GUEST_TYPE),
    ROUND_EXPECTED_DOWNTIME("migrationd.round.expected.downtime", Type.TIMER, "seconds",
            "Downtime a stop after this round would cost (remaining dirty bytes / bandwidth)", Tag.DIRECTION, Tag.GUEST_TYPE),

    // ---- the latest round, as gauges (what dashboards plot per round) -------------------------------
    LAST_ROUND_NUMBER("migrationd.round.last.number", Type.GAUGE, null,
            "Number of the latest pre-copy round (0-based)", Tag.DIRECTION, Tag.GUEST_TYPE),
    LAST_ROUND_DIRTY_PAGES("migrationd.round.last.dirty.pages", Type.GAUGE, null,
            "Dirty pages of the latest round", Tag.DIRECTION, Tag.GUEST_TYPE),
    LAST_ROUND_SENT_PAGES("migrationd.round.last.sent.pages", Type.GAUGE, null,
            "Pages sent in the latest round", Tag.DIRECTION, Tag.GUEST_TYPE),
    LAST_ROUND_DIRTY_RATE("migrationd.round.last.dirty.rate", Type.GAUGE, "bytes.per.second",
            "Dirty rate during the latest round", Tag.DIRECTION, Tag.GUEST_TYPE),
    LAST_ROUND_BANDWIDTH("migrationd.round.last.bandwidth", Type.GAUGE, "bytes.per.second",
            "Send rate of the latest round", Tag.DIRECTION, Tag.GUEST_TYPE),
    LAST_ROUND_EXPECTED_DOWNTIME("migrationd.round.last.expected.downtime", Type.GAUGE, "seconds",
            "Expected downtime after the latest round", Tag.DIRECTION, Tag.GUEST_TYPE),

    // ---- per migration -----------------------------------------------------------------------------
    MIGRATION_DURATION("migrationd.migration.duration", Type.TIMER, "seconds",
            "Total time of a finished migration", Tag.DIRECTION, Tag.GUEST_TYPE, Tag.OUTCOME),
    MIGRATION_DOWNTIME("migrationd.migration.downtime", Type.TIMER, "seconds",
            "Guest downtime of a successful migration as measured here (source: pause to Running; destination: last byte to unpause)",
            Tag.DIRECTION, Tag.GUEST_TYPE),
    MIGRATION_ROUNDS("migrationd.migration.rounds", Type.SUMMARY, null,
            "Pre-copy rounds of a finished migration (source)", Tag.DIRECTION, Tag.GUEST_TYPE),
    MIGRATION_STREAM_BYTES("migrationd.migration.stream", Type.COUNTER, "bytes",
            "Save-stream bytes sent (outgoing) or received (incoming) by finished migrations", Tag.DIRECTION, Tag.GUEST_TYPE),
    MIGRATION_WIRE_BYTES("migrationd.migration.wire", Type.COUNTER, "bytes",
            "Bytes the streams of finished migrations took on the wire, by the codec the hand-over picked (none: plain)",
            Tag.DIRECTION, Tag.GUEST_TYPE, Tag.COMPRESSION),
    MIGRATIONS_FINISHED("migrationd.migrations.finished", Type.COUNTER, null,
            "Finished migrations by outcome", Tag.DIRECTION, Tag.GUEST_TYPE, Tag.OUTCOME),
    MIGRATIONS_ACTIVE("migrationd.migrations.active", Type.GAUGE, null,
            "Migrations running now", Tag.DIRECTION),
    MIGRATIONS_IN_DOUBT("migrationd.migrations.in.doubt", Type.GAUGE, null,
            "Migrations past the commit point whose outcome is not yet known (source copy paused)"),
    MIGRATIONS_NEEDING_OPERATOR("migrationd.migrations.needing.operator", Type.GAUGE, null,
            "Migrations the daemon cannot finish safely on its own, by reason; the guest is kept where nothing is lost", Tag.REASON);

    /** Micrometer meter types used here. */
    public enum Type { COUNTER, GAUGE, SUMMARY, TIMER }

    /** The tag keys; values are lower-case words. */
    public enum Tag {
        DIRECTION("direction"), GUEST_TYPE("guest_type"), OUTCOME("outcome"), REASON("reason"), COMPRESSION("compression");

        private final String key;

        Tag(String key) {
            this.key = key;
        }

        public String key() {
            return key;
        }
    }

    private final String meterName;
    private final Type type;
    private final String baseUnit;
    private final String description;
    private final List<Tag> tags;

    MigrationMeter(String meterName, Type type, String baseUnit, String description, Tag... tags) {
        this.meterName = meterName;
        this.type = type;
        this.baseUnit = baseUnit;
        this.description = description;
        this.tags = List.of(tags);
    }

    public String meterName() {
        return meterName;
    }

    public Type type() {
        return type;
    }

    /** The base unit, or null for plain counts. */
    public String baseUnit() {
        return baseUnit;
    }

    public String description() {
        return description;
    }

    /** The tag keys, in the order {@link MetricsBinder} passes values. */
    public List<Tag> tags() {
        return tags;
    }
}
