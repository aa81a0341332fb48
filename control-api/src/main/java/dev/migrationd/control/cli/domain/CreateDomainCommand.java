package dev.migrationd.control.cli.domain;

import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.daemon.Connection;
import dev.migrationd.control.cli.daemon.DaemonCommand;
import dev.migrationd.control.cli.text.Converters;
import dev.migrationd.control.cli.text.Render;
import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.Fill;
import dev.migrationd.control.v1.GuestType;
import dev.migrationd.control.v1.Workload;
import dev.migrationd.control.v1.WritePattern;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl domain create NAME ...}: a running simulated domain with a workload. */
@Command(name = "create", mixinStandardHelpOptions = true, description = "Creates a running simulated domain with a memory-dirtying workload.")
public final class CreateDomainCommand extends DaemonCommand {

    /** Largest vCPU count accepted here; the daemon checks its own limits too. */
    static final int MAX_VCPUS = 128;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Option(names = "--memory", required = true, paramLabel = "SIZE", converter = Converters.Size.class,
            description = "Guest memory, e.g. 1GiB (a multiple of 4KiB).")
    long memory;

    @Option(names = "--vcpus", defaultValue = "1", paramLabel = "N", description = "vCPUs (default ${DEFAULT-VALUE}).")
    int vcpus;

    @Option(names = "--type", defaultValue = "hvm", paramLabel = "hvm|pv", converter = Converters.GuestTypeWords.class,
            completionCandidates = Converters.GuestTypeWords.class, description = "Guest type (default ${DEFAULT-VALUE}).")
    GuestType type;

    @Option(names = "--guest-width", defaultValue = "64", paramLabel = "64|32", converter = Converters.WidthWords.class,
            completionCandidates = Converters.WidthWords.class, description = "Guest word width (default ${DEFAULT-VALUE}; 32 for PV only).")
    int width;

    @Option(names = "--fill", defaultValue = "zero", paramLabel = "zero|random", converter = Converters.FillWords.class,
            completionCandidates = Converters.FillWords.class, description = "Initial memory contents (default ${DEFAULT-VALUE}).")
    Fill fill;

    @Option(names = "--dirty-rate", defaultValue = "0", paramLabel = "RATE", converter = Converters.Rate.class,
            description = "How fast the workload writes memory, e.g. 50MiB/s; 0 = idle (default).")
    long dirtyRate;

    @Option(names = "--working-set", defaultValue = "25%", paramLabel = "PERCENT", converter = Converters.Percent.class,
            description = "Hot part of memory the writes go to (default ${DEFAULT-VALUE}).")
    double workingSet;

    @Option(names = "--skew", paramLabel = "FRACTION",
            description = "random pattern: probability 0..1 that a write hits the hot tenth of the working set (default 0 = uniform).")
    Double skew;

    @Option(names = "--pattern", defaultValue = "random", paramLabel = "random|sequential|ab",
            converter = Converters.PatternWords.class, completionCandidates = Converters.PatternWords.class,
            description = "Write pattern (default ${DEFAULT-VALUE}); ab = QEMU's a-b guest, checkable after a move.")
    WritePattern pattern;

    @Override
    protected void validate() {
        if (memory <= 0 || memory % 4096 != 0) {
            throw usage("--memory " + memory + " bytes: must be a positive multiple of 4KiB");
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw usage("--vcpus " + vcpus + ": must be 1.." + MAX_VCPUS);
        }
        if (width == 32 && type != GuestType.GUEST_TYPE_PV) {
            throw usage("--guest-width 32 is for PV guests only (--type pv)");
        }
        if (skew != null && !(skew >= 0 && skew <= 1)) {
            throw usage("--skew " + skew + ": must be 0..1");
        }
    }

    @Override
    protected int call(Connection connection) {
        Workload.Builder w = Workload.newBuilder().setDirtyRateBytesPerSecond(dirtyRate)
                .setWorkingSetFraction(workingSet).setPattern(pattern);
        if (skew != null) {
            w.setSkew(skew);
        }
        Domain d = connection.blocking().createDomain(CreateDomainRequest.newBuilder().setName(name)
                .setMemoryBytes(memory).setVcpus(vcpus).setGuestType(type).setGuestWidthBits(width)
                .setFill(fill).setWorkload(w).build());
        println(json() ? Render.json(d) : Render.domainTable(List.of(d)));
        return ExitCode.OK;
    }
}
