package dev.migrationd.bench;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.sim.SimDomain;
import dev.migrationd.hypervisor.sim.SimDomainSpec;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import dev.migrationd.hypervisor.sim.WorkloadSpec;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The dirty rate an unthrottled sim vCPU reaches: one vCPU on a 256 MiB guest (working set all of it),
 * log-dirty on or off. Each operation sleeps 100 ms while the vCPU runs; the {@code pages} counter is the
 * number of page writes the guest's own counter registered, reported per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SimDirtyRateBench {

    @Param({"random", "sequential"})
    public String pattern;

    @Param({"false", "true"})
    public boolean logDirty;

    private Path dir;
    private SimHypervisor hv;
    private SimDomain domain;

    /** Page writes, normalised by JMH to writes per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Pages {
        public long pages;
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException, HypervisorException {
        dir = Files.createTempDirectory("sim-rate-bench");
        hv = SimHypervisor.open(dir);
        domain = hv.create(SimDomainSpec.of("rate", 256L << 20, 1, GuestType.HVM, Width.W64,
                WorkloadSpec.of(WorkloadSpec.UNTHROTTLED, 1.0, 0, WorkloadSpec.Pattern.parse(pattern.toUpperCase(Locale.ROOT)))));
        if (logDirty) {
            domain.dirtyLog().enable();
        }
    }

    @Benchmark
    public void run(Pages counters) throws HypervisorException, InterruptedException {
        long before = domain.workloadCounter();
        Thread.sleep(100);
        counters.pages += domain.workloadCounter() - before;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException, HypervisorException {
        domain.destroy();
        hv.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
