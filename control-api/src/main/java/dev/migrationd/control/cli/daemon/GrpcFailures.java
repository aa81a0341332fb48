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
     * Unreachable or timed out: {@link ExitCode#UNREACHABLE}, naming the address and how to set it; any other
     * status (the daemon refused): {@link ExitCode#REFUSED} with the daemon's reason.
     */
    public static int exitCode(StatusRuntimeException e, CommandLine cl) {
        String addr = GlobalOptions.of(cl.getCommandSpec()).address();
        Status s = e.getStatus();
        String what = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        if (s.getCause() != null && s.getCause().getMessage() != null) {
            what = what + ": " + s.getCause().getMessage();
        }
        var err = cl.getErr();
        int code;
        if (s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
            err.println("migrationctl: cannot reach the daemon at " + addr + " (" + what
                    + "); is migrationd running there? Set --daemon HOST:PORT or $" + GlobalOptions.ADDR_ENV + ".");
            code = ExitCode.UNREACHABLE;
        } else {
            err.println("migrationctl: " + s.getCode().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + what);
            code = ExitCode.REFUSED;
        }
        err.flush();
        return code;
    }
}
