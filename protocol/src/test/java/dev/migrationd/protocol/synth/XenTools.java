package dev.migrationd.protocol.synth;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Static shortcuts to Xen's stream tools, kept because hypervisor-ffm's sim tests use them; new code should use
 * {@link dev.migrationd.protocol.testing.XenTools}, which this delegates to (missing tools fail the test with an
 * actionable message, never a silent skip).
 */
public final class XenTools {

    /** Exit status and combined output of one tool run. */
    public record Result(int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    private XenTools() {
    }

    /** Throws AssertionError naming the package to install when the tools are missing. */
    public static void requireInstalled() {
        dev.migrationd.protocol.testing.XenTools.require();
    }

    /** {@code convert-legacy-stream -i in -o out -w 32|64 -g pv|hvm -f libxc|libxl}. */
    public static Result convert(Path in, Path out, int widthBits, String guest, String format)
            throws IOException, InterruptedException {
        var r = dev.migrationd.protocol.testing.XenTools.require().convertLegacy(in, out, Width.ofBits(widthBits),
                GuestType.valueOf(guest.toUpperCase(java.util.Locale.ROOT)), format);
        return new Result(r.exitCode(), r.output());
    }

    /** {@code verify-stream-v2 -i in -f libxc|libxl}. */
    public static Result verify(Path in, String format) throws IOException, InterruptedException {
        var r = dev.migrationd.protocol.testing.XenTools.require().verifyV2(in, format);
        return new Result(r.exitCode(), r.output());
    }
}
