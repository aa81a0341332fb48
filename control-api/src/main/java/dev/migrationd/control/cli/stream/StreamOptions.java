package dev.migrationd.control.cli.stream;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.verify.StreamVerifier;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** Options shared by the stream commands that read a stream; a picocli mixin. */
final class StreamOptions {

    /** Converts "32"/"64" to a {@link Width}. */
    static final class WidthConverter implements CommandLine.ITypeConverter<Width> {
        @Override
        public Width convert(String value) {
            return switch (value) {
                case "32" -> Width.W32;
                case "64" -> Width.W64;
                default -> throw new CommandLine.TypeConversionException("'" + value + "' is not a width: use 32 or 64");
            };
        }
    }

    @Option(names = "--width", paramLabel = "32|64", converter = WidthConverter.class,
            description = "Toolstack width of a legacy stream (default: detected from octets 4-7; v2 streams: ignored).")
    Width width;

    @Option(names = "--guest", paramLabel = "pv|hvm",
            description = "Guest type of a legacy stream (default: detected from the extended-info signature; v2 "
                    + "streams: ignored, the domain header says).")
    GuestType guest;

    /** The options as the verifier takes them: what was not given is detected. */
    StreamVerifier.Options verifierOptions() {
        return new StreamVerifier.Options(width, guest);
    }
}
