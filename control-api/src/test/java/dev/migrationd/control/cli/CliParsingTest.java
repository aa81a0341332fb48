package dev.migrationd.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.Policy;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StreamFormat;
import dev.migrationd.control.v1.TimeoutAction;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Option parsing and usage errors of migrationctl, without a daemon. */
class CliParsingTest {

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        CommandLine cl = MigrationCtl.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

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
    void usageErrorsExit2WithOneMessageAndAHint() {
        Result r = run("migrate", "dom7", "--to", "hostB", "--policy", "fast");
        assertEquals(ExitCode.USAGE, r.code());
        assertTrue(r.err().contains("'fast': expected one of downtime, xen-legacy"), r.err());
        assertTrue(r.err().contains("Try 'migrationctl migrate --help'"), r.err());
        assertEquals(ExitCode.USAGE, run("migrate", "dom7", "--to", "hostB", "--max-rounds", "0").code());
        assertEquals(ExitCode.USAGE, run("migrate", "dom7").code());
        Result w = run("domain", "create", "d", "--memory", "1GiB", "--guest-width", "32");
        assertEquals(ExitCode.USAGE, w.code());
        assertTrue(w.err().contains("for PV guests only"), w.err());
        Result mem = run("domain", "create", "d", "--memory", "1000");
        assertEquals(ExitCode.USAGE, mem.code());
        assertTrue(mem.err().contains("multiple of 4KiB"), mem.err());
        Result addr = run("list", "--daemon", "localhost");
        assertEquals(ExitCode.USAGE, addr.code());
        assertTrue(addr.err().contains("expected HOST:PORT"), addr.err());
        assertEquals(ExitCode.USAGE, run("list", "--format", "yaml").code());
        assertEquals(ExitCode.USAGE, run("list", "--limit", "0").code());
    }

    @Test
    void helpListsTheExitCodes() {
        Result r = run("migrate", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Exit codes:") && r.out().contains("130"), r.out());
    }

    @Test
    void completionScriptCoversTheCommands() {
        Result r = run("completion");
        assertEquals(0, r.code(), r.err());
        for (String cmd : new String[] {"migrate", "watch", "cancel", "domains", "restore"}) {
            assertTrue(r.out().contains(cmd), cmd);
        }
        assertTrue(r.out().contains("xen-legacy"), "option values complete too");
    }

    @Test
    void restoreDefaultsTheNameToTheFileStem() {
        assertEquals("dom7", RestoreCommand.defaultName(Path.of("/tmp/dom7.save")));
        assertEquals("dom7", RestoreCommand.defaultName(Path.of("dom7")));
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
