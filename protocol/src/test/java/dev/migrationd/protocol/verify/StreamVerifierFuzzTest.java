package dev.migrationd.protocol.verify;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import org.junit.jupiter.api.Tag;

/**
 * Jazzer fuzz test of the verifier: no file makes it throw anything but a StreamException (or hang, or run out of
 * memory). Byte 0 picks the options (width and guest type given or detected); the rest is the file. Seeds
 * (synthesised streams of every format, one behind an xl header) and findings live in
 * {@code src/test/resources/dev/migrationd/protocol/verify/StreamVerifierFuzzTestInputs/verifierOnlyThrowsStreamExceptions/};
 * a plain {@code verify} replays them. Fuzz with
 * {@code JAZZER_FUZZ=1 bin/build -pl protocol -am test -Dtest=StreamVerifierFuzzTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("fuzz")
class StreamVerifierFuzzTest {

    static StreamVerifier.Options options(int b) {
        Width w = switch (b & 3) {
            case 1 -> Width.W32;
            case 2 -> Width.W64;
            default -> null;
        };
        GuestType g = switch ((b >> 2) & 3) {
            case 1 -> GuestType.PV;
            case 2 -> GuestType.HVM;
            default -> null;
        };
        return new StreamVerifier.Options(w, g);
    }

    @FuzzTest(maxDuration = "20s")
    void verifierOnlyThrowsStreamExceptions(byte[] input) {
        if (input.length < 1) {
            return;
        }
        try {
            StreamVerifier.verify(Channels.newChannel(new ByteArrayInputStream(input, 1, input.length - 1)),
                    options(input[0]));
        } catch (StreamException expected) {
            // the only allowed failure
        } catch (IOException e) {
            throw new UncheckedIOException("an in-memory channel cannot fail", e);
        }
    }
}
