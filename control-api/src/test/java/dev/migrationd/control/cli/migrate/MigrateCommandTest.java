package dev.migrationd.control.cli.migrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.Policy;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StreamFormat;
import dev.migrationd.control.v1.TimeoutAction;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** How migrate's options become the StartMigration request, and the answers to Ctrl-C. */
class MigrateCommandTest {

    @Test
    void migrateOptionsBecomeTheRequest() {
        MigrateCommand m = new MigrateCommand();
        new CommandLine(m).parseArgs("dom7", "--to", "hostB", "--max-downtime", "300ms", "--bandwidth", "1GiB/s",
                "--max-rounds", "12", "--timeout", "10m", "--on-timeout", "force", "--policy", "xen-legacy", "--verify",
                "--stream-format", "v2", "--idempotency-key", "k-1");
        StartMigrationRequest r = m.request();
        assertEquals("dom7", r.getDomain());
        assertEquals("hostB", r.getDestination());
        assertEquals("k-1", r.getIdempotencyKey());
        assertEquals(300_000_000, r.getOptions().getMaxDowntime().getNanos());
        assertEquals(1L << 30, r.getOptions().getBandwidthBytesPerSecond());
        assertEquals(12, r.getOptions().getMaxRounds());
        assertEquals(600, r.getOptions().getTimeout().getSeconds());
        assertEquals(TimeoutAction.TIMEOUT_ACTION_FORCE, r.getOptions().getOnTimeout());
        assertEquals(Policy.POLICY_XEN_LEGACY, r.getOptions().getPolicy());
        assertTrue(r.getOptions().getVerify());
        assertEquals(StreamFormat.STREAM_FORMAT_V2, r.getOptions().getFormat());
    }

    @Test
    void aStartWithoutAKeyGetsAFreshOne() {
        MigrateCommand m = new MigrateCommand();
        new CommandLine(m).parseArgs("dom7", "--to", "hostB");
        StartMigrationRequest r = m.request();
        assertEquals(36, r.getIdempotencyKey().length());
        assertFalse(r.getOptions().hasMaxDowntime(), "unset options stay unset: the daemon's defaults apply");
    }

    @Test
    void onTimeoutAloneAppliesAtTheRoundLimit() {
        MigrateCommand m = new MigrateCommand();
        new CommandLine(m).parseArgs("dom7", "--to", "hostB", "--max-rounds", "2", "--on-timeout", "force");
        StartMigrationRequest r = m.request();
        assertEquals(2, r.getOptions().getMaxRounds());
        assertEquals(TimeoutAction.TIMEOUT_ACTION_FORCE, r.getOptions().getOnTimeout());
        assertFalse(r.getOptions().hasTimeout(), "no timeout was given: the daemon's default applies");
    }

    @Test
    void ctrlCAnswers() {
        assertEquals(Interrupts.Choice.CANCEL, Interrupts.parse("c"));
        assertEquals(Interrupts.Choice.CANCEL, Interrupts.parse("yes"));
        assertEquals(Interrupts.Choice.DETACH, Interrupts.parse("d"));
        assertEquals(Interrupts.Choice.DETACH, Interrupts.parse(null));
        assertEquals(Interrupts.Choice.WATCH, Interrupts.parse(""));
        assertEquals(Interrupts.Choice.WATCH, Interrupts.parse("w"));
    }
}
