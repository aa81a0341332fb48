package dev.migrationd.protocol.convert;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxlReader;
import dev.migrationd.protocol.v2.V2Streams;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Tag;

/**
 * Fuzzes the legacy → v2 pipeline with arbitrary legacy bytes: it may only fail with StreamException, and
 * whatever it converts must be a v2 stream our own reader accepts. Input layout (as {@code LegacyReaderFuzzTest},
 * whose seeds are reused): byte 0 = reader options (width, guest type, checkpointed) and bit 5 = libxl output,
 * byte 1 = where to split the feed, then the legacy stream. Seeds and findings:
 * {@code LegacyToV2FuzzTestInputs/pipelineOutputIsValidV2/}. Fuzz:
 * {@code JAZZER_FUZZ=1 bin/build -pl protocol -am test -Dtest=LegacyToV2FuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("fuzz")
class LegacyToV2FuzzTest {
    private static final StreamLimits LIMITS = new StreamLimits(1 << 20, 1024, 4096, 1 << 16, 1 << 16, 1 << 20,
            1 << 20, 1 << 16, 1 << 20, 1 << 22, 1 << 20);

    static LegacyStreamReader.Options options(int b) {
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
        return new LegacyStreamReader.Options(w, g, (b & 0x10) != 0, LIMITS, warning -> warning.toString());
    }

    @FuzzTest(maxDuration = "30s")
    void pipelineOutputIsValidV2(byte[] input) throws IOException {
        if (input.length < 2) {
            return;
        }
        boolean libxl = (input[0] & 0x20) != 0;
        V2Streams.Collector out = new V2Streams.Collector();
        LegacyToV2Pipeline p = new LegacyToV2Pipeline(options(input[0]), libxl ? LegacyToV2Converter.Format.LIBXL
                : LegacyToV2Converter.Format.LIBXC, false, false, out);
        int split = 2 + ((input[1] & 0xFF) * (input.length - 2)) / 255;
        try {
            p.feed(ByteBuffer.wrap(input, 2, split - 2));
            p.feed(ByteBuffer.wrap(input, split, input.length - split));
            p.finish();
        } catch (StreamException expected) {
            return; // the only allowed failure
        }
        byte[] v2 = out.bytes();
        try {
            if (libxl) {
                LibxlReader r = new LibxlReader(StreamLimits.DEFAULT);
                r.feed(ByteBuffer.wrap(v2));
                r.finish();
            } else {
                LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
                r.feed(ByteBuffer.wrap(v2));
                r.finish();
            }
        } catch (StreamException e) {
            throw new AssertionError("our converter wrote a v2 stream our reader rejects: " + e.getMessage(), e);
        }
    }
}
