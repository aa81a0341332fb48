package dev.migrationd.bench;

import dev.migrationd.hypervisor.DirtyBitmap;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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
 * Fetch-and-clear of the sim's dirty log on a 16 GiB guest (4 Mi pages, a 512 KiB bitmap) with 1% and
 * 50% of its pages dirty. Before each invocation the dirty pages are marked again as a vCPU marks them
 * (atomic OR, {@link dev.migrationd.hypervisor.sim.SimDirtyLog#markAll}); the guest itself is idle, so
 * nothing is committed (the memory file stays sparse).
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp 'bench/target/bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*'
 * org.openjdk.jmh.Main SimDirtyLog -f 1 -wi 2 -i 3}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SimDirtyLogBench {

    static final long GUEST_BYTES = 16L << 30;

    @Param({"1", "50"})
    public int dirtyPercent;

    private Path dir;
    private SimHypervisor hv;
    private SimDomain domain;
    private DirtyBitmap pattern;
    private DirtyBitmap into;

    @Setup(Level.Trial)
    public void setUp() throws IOException, HypervisorException {
        dir = Files.createTempDirectory("sim-bench");
        hv = SimHypervisor.open(dir);
        domain = hv.create(SimDomainSpec.of("bench", GUEST_BYTES, 1, GuestType.HVM, Width.W64, WorkloadSpec.IDLE));
        long n = domain.memory().p2mSize();
        pattern = new DirtyBitmap(n);
        into = new DirtyBitmap(n);
        SplittableRandom rnd = new SplittableRandom(42);
        for (long pfn = 0; pfn < n; pfn++) {
            if (rnd.nextInt(100) < dirtyPercent) {
                pattern.set(pfn);
            }
        }
        domain.dirtyLog().enable();
    }

    @Setup(Level.Invocation)
    public void dirty() {
        domain.simDirtyLog().markAll(pattern);
    }

    @Benchmark
    public long fetchAndClear() throws HypervisorException {
        return domain.dirtyLog().fetchAndClear(into);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException, HypervisorException {
        domain.destroy();
        hv.close();
        pattern.close();
        into.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
