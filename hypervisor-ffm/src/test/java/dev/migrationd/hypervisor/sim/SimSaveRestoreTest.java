package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Live migration between two sim hosts by direct page copies (no stream): memory, state and workload continue. */
class SimSaveRestoreTest {

    @TempDir
    Path tmp;

    static Stream<Arguments> shapes() {
        return Stream.of(Arguments.of(GuestType.HVM, Width.W64), Arguments.of(GuestType.PV, Width.W64),
                Arguments.of(GuestType.PV, Width.W32));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("shapes")
    void liveCopyRestoresIdenticalMemoryAndStateAndTheWorkloadContinues(GuestType type, Width width) throws Exception {
        try (SimHypervisor a = SimHypervisor.open(tmp.resolve("a")); SimHypervisor b = SimHypervisor.open(tmp.resolve("b"))) {
            SimDomain src = a.create(SimDomainSpec.of("vm", 8 * SimTestSupport.MIB, 2, type, width,
                    WorkloadSpec.of(40 * SimTestSupport.MIB, 1.0, 0, WorkloadSpec.Pattern.AB)));
            SimTestSupport.await("the workload to run", 5000, () -> SimTestSupport.counter(src) > 3000);
            Domain dst = SimTestSupport.migrate(src, b, "vm", 3);
            SimDomain sdst = b.simDomain("vm");
            assertEquals(DomainState.PAUSED, dst.info().state());
            assertEquals(src.info().uuid(), dst.info().uuid());
            assertEquals(src.memoryHash(), sdst.memoryHash(), "memory differs after the copy");
            long counter = src.workloadCounter();
            assertEquals(counter, sdst.workloadCounter());
            if (type == GuestType.PV) {
                for (int v = 0; v < 2; v++) {
                    assertArrayEquals(src.platform().pvVcpuContext(v), dst.platform().pvVcpuContext(v));
                }
                assertArrayEquals(src.platform().p2mFrameList(), dst.platform().p2mFrameList());
            } else {
                assertArrayEquals(src.platform().hvmContext(), dst.platform().hvmContext());
                assertEquals(src.platform().hvmParams(), dst.platform().hvmParams());
            }
            var srcAb = src.checkAb();
            assertTrue(srcAb.ok(), srcAb.message());
            var ab = sdst.checkAb();
            assertTrue(ab.ok(), ab.message());

            dst.resume();
            SimTestSupport.await("the restored workload to continue", 5000,
                    () -> SimTestSupport.counter(sdst) > counter + 3000);
            dst.pause();
            ab = sdst.checkAb();
            assertTrue(ab.ok(), "after running on the destination: " + ab.message());
            assertEquals(counter, src.workloadCounter(), "the paused source must not run on");
            src.destroy();
        }
    }
}
