package dev.migrationd.protocol.v2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;

/**
 * Fuzzes the v2 readers with arbitrary bytes: they may only return items or throw the protocol's
 * StreamException subclasses (no other exception, no OOM, no hang); what they accept re-encodes to the same
 * octets; and a split feed (first 64 bytes one at a time, the rest in three pieces) gives the same outcome as
 * one buffer. Seeds are writer output ({@code V2ReaderFuzzTestInputs/<method>/}, regenerate with
 * {@link V2FuzzSeeds}); findings stay there as regression inputs, which a plain {@code verify} replays.
 * Fuzz: {@code JAZZER_FUZZ=1 bin/build -pl protocol test -Dtest=V2ReaderFuzzTest#libxcReader}.
 */
@Tag("fuzz")
class V2ReaderFuzzTest {
    /** Tighter bounds than the default, so the fuzzer reaches the limits quickly. */
    static final StreamLimits LIMITS = new StreamLimits(1 << 16, 64, 64, 4096, 8192, 1 << 16, 1 << 16, 4096, 4096,
            64 * 4104 + 16, 1024);

    @FuzzTest(maxDuration = "60s")
    void libxcReader(byte[] data) {
        Outcome whole = readLibxc(data, false);
        Outcome split = readLibxc(data, true);
        assertEquals(whole.error, split.error);
        if (whole.error == null) {
            // (after an error the items completed in the failing feed call are not returned, so they differ)
            assertEquals(whole.items, split.items);
        }
        if (whole.consumed >= 0) {
            assertArrayEquals(Arrays.copyOf(data, whole.consumed), V2Streams.write(whole.items),
                    "accepted input must re-encode to the same octets");
        }
    }

    @FuzzTest(maxDuration = "60s")
    void libxlReader(byte[] data) {
        Outcome whole = readLibxl(data, false);
        Outcome split = readLibxl(data, true);
        assertEquals(whole.error, split.error);
        if (whole.error == null) {
            assertEquals(whole.items, split.items);
        }
    }

    /** {@code consumed} is -1 after an error, and also when optional records were skipped (not re-encodable). */
    record Outcome(List<V2Item> items, String error, int consumed) {
    }

    static List<ByteBuffer> pieces(byte[] data, boolean split) {
        List<ByteBuffer> out = new ArrayList<>();
        if (!split) {
            out.add(ByteBuffer.wrap(data));
            return out;
        }
        int single = Math.min(64, data.length);
        for (int i = 0; i < single; i++) {
            out.add(ByteBuffer.wrap(data, i, 1));
        }
        int rest = data.length - single;
        int a = single + rest / 3;
        int b = single + 2 * rest / 3;
        out.add(ByteBuffer.wrap(data, single, a - single));
        out.add(ByteBuffer.wrap(data, a, b - a));
        out.add(ByteBuffer.wrap(data, b, data.length - b));
        return out;
    }

    static Outcome readLibxc(byte[] data, boolean split) {
        LibxcReader r = new LibxcReader(LIMITS);
        List<V2Item> items = new ArrayList<>();
        try {
            for (ByteBuffer in : pieces(data, split)) {
                items.addAll(r.feed(in));
            }
            r.finish();
            return new Outcome(items, null, r.skippedOptionalRecords() == 0 ? (int) r.offset() : -1);
        } catch (StreamException e) {
            return new Outcome(items, e.getClass().getSimpleName() + ": " + e.getMessage(), -1);
        }
    }

    static Outcome readLibxl(byte[] data, boolean split) {
        LibxlReader r = new LibxlReader(LIMITS);
        List<V2Item> items = new ArrayList<>();
        try {
            for (ByteBuffer in : pieces(data, split)) {
                items.addAll(r.feed(in));
            }
            r.finish();
            return new Outcome(items, null, (int) r.offset());
        } catch (StreamException e) {
            return new Outcome(items, e.getClass().getSimpleName() + ": " + e.getMessage(), -1);
        }
    }
}
