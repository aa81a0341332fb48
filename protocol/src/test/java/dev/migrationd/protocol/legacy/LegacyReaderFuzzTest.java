package dev.migrationd.protocol.legacy;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyStreamReader.Options;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Tag;

/**
 * Jazzer fuzz test of the reader: no input makes it throw anything but a StreamException (or hang, or run out
 * of memory). Byte 0 picks the options (width/guest given or detected, checkpointed, bit 5: a PageListener), byte 1 a split point; the
 * rest is the stream. Seeds (streams our writer produces) and findings live in
 * {@code src/test/resources/dev/migrationd/protocol/legacy/LegacyReaderFuzzTestInputs/readerOnlyThrowsStreamExceptions/};
 * a plain {@code verify} replays them. Fuzz with
 * {@code JAZZER_FUZZ=1 bin/build -pl protocol -am test -Dtest=LegacyReaderFuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("fuzz")
class LegacyReaderFuzzTest {
    /** Limits small enough that lying lengths hit them quickly. */
    private static final StreamLimits LIMITS = new StreamLimits(1 << 20, 1024, 4096, 1 << 16, 1 << 16, 1 << 20,
            1 << 20, 1 << 16, 1 << 20, 1 << 22, 1 << 20, 1 << 20);

    static Options options(int b) {
        Width w = switch (b & 3) {
            case 0 -> null;
            case 1 -> Width.W32;
            default -> Width.W64;
        };
        GuestType g = switch ((b >> 2) & 3) {
            case 0 -> null;
            case 1 -> GuestType.PV;
            default -> GuestType.HVM;
        };
        return new Options(w, g, (b & 0x10) != 0, LIMITS, warning -> warning.toString());
    }

    @FuzzTest(maxDuration = "20s")
    void readerOnlyThrowsStreamExceptions(byte[] input) {
        if (input.length < 2) {
            return;
        }
        LegacyStreamReader.PageListener pages = (input[0] & 0x20) == 0 ? null
                : (batch, entry, page) -> page.get(4095 + page.position());
        LegacyStreamReader r = new LegacyStreamReader(options(input[0]), item -> {
            if (item instanceof PageBatch b && !b.pagesStreamed()) {
                for (int i = 0; i < b.count(); i++) {
                    if (b.hasData(i) && !b.pfnsOnly()) {
                        b.page(i).get(4095); // views must be whole pages
                    }
                }
            }
        }, pages);
        int split = 2 + ((input[1] & 0xFF) * (input.length - 2)) / 255;
        try {
            r.feed(ByteBuffer.wrap(input, 2, split - 2));
            r.feed(ByteBuffer.wrap(input, split, input.length - split));
            r.finish();
        } catch (StreamException expected) {
            // the only allowed failure
        }
    }
}
