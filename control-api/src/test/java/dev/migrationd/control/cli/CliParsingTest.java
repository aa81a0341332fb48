package dev.migrationd.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
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
        assertTrue(addr.err().contains("expected unix:PATH or HOST:PORT"), addr.err());
        Result relative = run("list", "--daemon", "unix:run/control.sock");
        assertEquals(ExitCode.USAGE, relative.code());
        assertTrue(relative.err().contains("expected unix:/ABSOLUTE/PATH"), relative.err());
        Result tlsOnSocket = run("list", "--daemon", "unix:/run/x.sock", "--tls-ca", "/ca.pem");
        assertEquals(ExitCode.USAGE, tlsOnSocket.code());
        assertTrue(tlsOnSocket.err().contains("--tls-* options are for a daemon on TCP"), tlsOnSocket.err());
        Result halfTls = run("list", "--daemon", "127.0.0.1:7100", "--tls-ca", "/ca.pem", "--tls-cert", "/c.pem");
        assertEquals(ExitCode.USAGE, halfTls.code());
        assertTrue(halfTls.err().contains("mutual TLS needs --tls-ca, --tls-cert and --tls-key; missing: --tls-key"),
                halfTls.err());
        assertEquals(ExitCode.USAGE, run("list", "--format", "yaml").code());
        assertEquals(ExitCode.USAGE, run("list", "--limit", "0").code());
        assertEquals(ExitCode.USAGE, run("resolve", "m-1").code(), "resolve needs a decision");
        assertEquals(ExitCode.USAGE, run("resolve", "m-1", "--resume-source", "--confirm-destination").code(),
                "resolve takes one decision");
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
        for (String cmd : new String[] {"migrate", "watch", "cancel", "resolve", "domains", "restore"}) {
            assertTrue(r.out().contains(cmd), cmd);
        }
        assertTrue(r.out().contains("xen-legacy"), "option values complete too");
    }
}
