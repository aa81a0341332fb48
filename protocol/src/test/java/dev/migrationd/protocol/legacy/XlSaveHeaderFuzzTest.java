package dev.migrationd.protocol.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.StreamException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;

/**
 * Untrusted xl save-file headers: reading either yields a header that lies within the input (its configuration
 * inside the optional data, the stream starting at {@code length()}) and that the writer reproduces when it is one
 * the writer makes, or throws a StreamException naming {@code XL_HEADER} at an offset inside the input; never
 * anything else, never an allocation sized by a length the input could not back. Regression mode replays
 * {@code XlSaveHeaderFuzzTestInputs/}; fuzzing: {@code JAZZER_FUZZ=1 bin/build -pl protocol -am test
 * -Dtest=XlSaveHeaderFuzzTest}.
 */
@Tag("fuzz")
class XlSaveHeaderFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void readIsBoundedAndNamesTheField(byte[] file) throws IOException {
        byte[] withMagic = file;
        if (file.length >= 1 && (file[0] & 1) == 0) {
            // half the inputs get the magic, so that the fuzzer spends its time past it
            withMagic = Arrays.copyOf(ToolstackWrappers.XL_MAGIC, ToolstackWrappers.XL_MAGIC.length + file.length - 1);
            System.arraycopy(file, 1, withMagic, ToolstackWrappers.XL_MAGIC.length, file.length - 1);
        }
        ByteArrayInputStream in = new ByteArrayInputStream(withMagic);
        try {
            XlSaveHeader h = XlSaveHeader.read(in);
            assertTrue(h.length() <= withMagic.length, "header beyond the input");
            assertEquals(withMagic.length - h.length(), in.available(), "the stream starts right after the header");
            if (h.config() != null) {
                assertTrue(h.config().length + 4 <= h.optionalDataBytes());
                if (h.streamV2() && h.optionalFlags() == 0 && h.optionalDataBytes() == 4 + h.config().length) {
                    assertArrayEquals(Arrays.copyOf(withMagic, (int) h.length()), XlSaveHeader.forStreamV2(h.config(), h.json()));
                }
            }
        } catch (StreamException e) {
            assertEquals(XlSaveHeader.ITEM, e.item());
            assertTrue(e.offset() >= 0 && e.offset() <= Math.max(withMagic.length, 48), e.getMessage());
        }
    }
}
