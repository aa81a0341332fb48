package dev.migrationd.protocol.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.RecordException;
import org.junit.jupiter.api.Tag;

/**
 * Untrusted HVM context blobs: the parser either accepts a blob, which then re-encodes to exactly the same
 * bytes, or throws a RecordException whose offset lies inside the blob; never anything else. Regression mode
 * (every {@code mvn verify}) replays the seeds in {@code HvmContextFuzzTestInputs/}; fuzzing mode:
 * {@code JAZZER_FUZZ=1 bin/build -pl protocol -am test -Dtest=HvmContextFuzzTest}.
 */
@Tag("fuzz")
class HvmContextFuzzTest {

    private static final long BASE = 100;

    @FuzzTest(maxDuration = "20s")
    void parseAcceptsExactlyWhatItCanReEncode(byte[] blob) {
        try {
            HvmContext ctx = HvmContext.parse(blob, BASE);
            assertArrayEquals(blob, ctx.encode());
        } catch (RecordException e) {
            assertTrue(e.offset() >= BASE && e.offset() <= BASE + blob.length, e.getMessage());
            assertTrue(e.item().startsWith(HvmContext.ITEM), e.item());
        }
    }
}
