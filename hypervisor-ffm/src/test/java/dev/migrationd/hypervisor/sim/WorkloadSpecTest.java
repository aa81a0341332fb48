package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class WorkloadSpecTest {

    @Test
    void parsesTheCommandLineForm() {
        assertEquals(WorkloadSpec.of(64L << 20, 0.25, 0.8, WorkloadSpec.Pattern.RANDOM),
                WorkloadSpec.parse("rate=64MiB,ws=0.25,skew=0.8,pattern=random"));
        assertEquals(WorkloadSpec.of(WorkloadSpec.UNTHROTTLED, 1.0, 0, WorkloadSpec.Pattern.AB),
                WorkloadSpec.parse("rate=unthrottled, pattern=ab"));
        assertEquals(WorkloadSpec.of(1000, 1.0, 0, WorkloadSpec.Pattern.SEQUENTIAL),
                WorkloadSpec.parse("rate=1000,pattern=sequential"));
        assertTrue(WorkloadSpec.parse("").idle());
        assertEquals(16L << 30, WorkloadSpec.parseBytes("16G"));
        assertEquals(4096, WorkloadSpec.parseBytes("4k"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"rate=-5", "ws=0", "ws=1.5", "skew=2", "pattern=zigzag", "speed=1", "rate", "rate=12Q"})
    void rejectsBadValuesWithAClearMessage(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorkloadSpec.parse(text));
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
    }

    @Test
    void descriptorPageRoundTripsAndGarbageReadsAsIdle() {
        MemorySegment page = MemorySegment.ofArray(new byte[4096]);
        WorkloadSpec w = WorkloadSpec.of(123_456, 0.5, 0.25, WorkloadSpec.Pattern.SEQUENTIAL);
        w.writeTo(page);
        assertEquals(w, WorkloadSpec.readFrom(page));
        page.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 12, 99); // bad pattern: guest memory is untrusted
        assertEquals(WorkloadSpec.IDLE, WorkloadSpec.readFrom(page));
        assertEquals(WorkloadSpec.IDLE, WorkloadSpec.readFrom(MemorySegment.ofArray(new byte[4096])));
    }
}
