package dev.migrationd.control.cli.daemon;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.GlobalOptions;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Locale;
import picocli.CommandLine;

/** The one place where a failed control-API call becomes a line on stderr and an exit code. */
public final class GrpcFailures {

    private GrpcFailures() {
    }

    /**
     * Unreachable or timed out: {@link ExitCode#UNREACHABLE}, naming the address and how to set it; no permission
     * on the control socket, a TLS refusal, or any status the daemon sent (a missing role: PERMISSION_DENIED naming
     * it): {@link ExitCode#REFUSED} with the reason.
     */
    public static int exitCode(StatusRuntimeException e, CommandLine cl) {
        GlobalOptions global = GlobalOptions.of(cl.getCommandSpec());
        String addr = global.address();
        Status s = e.getStatus();
        String what = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        String causes = causes(s.getCause());
        if (!causes.isEmpty()) {
            what = what + ": " + causes;
        }
        String lower = what.toLowerCase(Locale.ROOT);
        var err = cl.getErr();
        int code;
        boolean unix = addr.startsWith(GlobalOptions.UNIX_PREFIX);
        String path = unix ? addr.substring(GlobalOptions.UNIX_PREFIX.length()) : "";
        if (s.getCode() == Status.Code.UNAVAILABLE && unix && lower.contains("permission denied")) {
            err.println("migrationctl: permission denied on the control socket " + path + ": its mode and group decide who "
                    + "may connect (ls -l " + path + "); join that group (control-socket-group), or ask root");
            code = ExitCode.REFUSED;
        } else if (s.getCode() == Status.Code.UNAVAILABLE && unix && (lower.contains("filenotfound")
                || lower.contains("no such file"))) {
            err.println("migrationctl: no control socket at " + path + "; is migrationd running, with control-listen = " + addr
                    + "? Set --daemon unix:PATH|HOST:PORT or $" + GlobalOptions.ADDR_ENV + ".");
            code = ExitCode.UNREACHABLE;
        } else if (s.getCode() == Status.Code.UNAVAILABLE && tlsRefusal(lower) != null) {
            err.println("migrationctl: the daemon at " + addr + " refused the TLS connection: " + tlsRefusal(lower));
            code = ExitCode.REFUSED;
        } else if (s.getCode() == Status.Code.UNAVAILABLE && global.socketLookedFor() != null) {
            err.println("migrationctl: no daemon found: no control socket at " + global.socketLookedFor()
                    + ", and nothing answers at " + addr + " (" + what + "); is migrationd running? Set --daemon "
                    + "unix:PATH|HOST:PORT or $" + GlobalOptions.ADDR_ENV + ".");
            code = ExitCode.UNREACHABLE;
        } else if (s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
            String hint = unix ? "is migrationd running, with control-listen = " + addr + "?"
                    : "is migrationd running there?" + (global.tls().any() ? ""
                    : " If it takes mutual TLS there, give --tls-ca, --tls-cert and --tls-key.");
            err.println("migrationctl: cannot reach the daemon at " + addr + " (" + what + "); " + hint
                    + " Set --daemon unix:PATH|HOST:PORT or $" + GlobalOptions.ADDR_ENV + ".");
            code = ExitCode.UNREACHABLE;
        } else {
            err.println("migrationctl: " + s.getCode().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + what);
            code = ExitCode.REFUSED;
        }
        err.flush();
        return code;
    }

    /** What a TLS alert in the failure says, or null when there is none. */
    private static String tlsRefusal(String lower) {
        if (lower.contains("certificate_required") || lower.contains("certificate required")) {
            return "no client certificate was presented (give --tls-cert and --tls-key)";
        }
        if (lower.contains("unknown_ca") || lower.contains("unknown ca")) {
            return "your certificate is not signed by a CA the daemon trusts (TLS alert unknown_ca)";
        }
        if (lower.contains("certificate_expired")) {
            return "your certificate has expired (TLS alert certificate_expired)";
        }
        if (lower.contains("bad_certificate") || lower.contains("certificate_unknown")) {
            return "your certificate was not accepted (TLS alert " + (lower.contains("bad_certificate") ? "bad_certificate"
                    : "certificate_unknown") + ")";
        }
        if (lower.contains("pkix path") || lower.contains("no subject alternative") || lower.contains("no name matching")) {
            return "the daemon's certificate is not trusted for this address (check --tls-ca, or --tls-server-name)";
        }
        return null;
    }

    /** The messages of a failure's causes, joined (the first names the I/O error, the others what is under it). */
    private static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null && b.length() < 1000; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
            if (b.indexOf(m) < 0) {
                if (!b.isEmpty()) {
                    b.append(": ");
                }
                b.append(m);
            }
        }
        return b.toString();
    }
}
