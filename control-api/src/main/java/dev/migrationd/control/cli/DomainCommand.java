package dev.migrationd.control.cli;

import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DestroyDomainRequest;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.control.v1.Fill;
import dev.migrationd.control.v1.GuestType;
import dev.migrationd.control.v1.InspectDomainRequest;
import dev.migrationd.control.v1.Workload;
import dev.migrationd.control.v1.WritePattern;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code migrationctl domain create|destroy|inspect}: simulated domains (sim backend only). */
@Command(name = "domain", mixinStandardHelpOptions = true, description = "Simulated domains (the daemon's sim backend only; other backends refuse).",
        subcommands = {DomainCommand.Create.class, DomainCommand.Destroy.class, DomainCommand.Inspect.class})
final class DomainCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "domain: say create, destroy or inspect");
    }

    /** Largest vCPU count accepted here; the daemon checks its own limits too. */
    static final int MAX_VCPUS = 128;

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Creates a running simulated domain with a memory-dirtying workload.")
    static final class Create extends DaemonCommand {
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
        void validate() {
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
        int call(ClientOptions.Connection connection) {
            Workload.Builder w = Workload.newBuilder().setDirtyRateBytesPerSecond(dirtyRate)
                    .setWorkingSetFraction(workingSet).setPattern(pattern);
            if (skew != null) {
                w.setSkew(skew);
            }
            Domain d = connection.blocking().createDomain(CreateDomainRequest.newBuilder().setName(name)
                    .setMemoryBytes(memory).setVcpus(vcpus).setGuestType(type).setGuestWidthBits(width)
                    .setFill(fill).setWorkload(w).build());
            println(client.json() ? Render.json(d) : Render.domainTable(List.of(d)));
            return ExitCode.OK;
        }
    }

    @Command(name = "destroy", mixinStandardHelpOptions = true, description = "Destroys a simulated domain.")
    static final class Destroy extends DaemonCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int call(ClientOptions.Connection connection) {
            connection.blocking().destroyDomain(DestroyDomainRequest.newBuilder().setName(name).build());
            println(client.json() ? "{\"destroyed\":\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}"
                    : "destroyed " + name);
            return ExitCode.OK;
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, description = {"A simulated domain's memory hash, workload counter and a-b check.",
            "Exits 1 when the a-b check ran and failed."})
    static final class Inspect extends DaemonCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int call(ClientOptions.Connection connection) {
            DomainDetails d = connection.blocking().inspectDomain(InspectDomainRequest.newBuilder().setName(name).build());
            if (client.json()) {
                println(Render.json(d));
            } else {
                println(Render.domainTable(List.of(d.getDomain())));
                println("memory hash       " + d.getMemoryHash());
                println("workload counter  " + d.getWorkloadCounter());
                println("a-b check         " + (d.getAbChecked() ? (d.getAbOk() ? "ok" : "FAILED") + " (" + d.getAbDetail() + ")" : "not run (pattern is not ab)"));
            }
            return d.getAbChecked() && !d.getAbOk() ? ExitCode.FAILED : ExitCode.OK;
        }
    }
}
