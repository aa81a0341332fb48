package dev.migrationd.control.cli;

import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.TypeConversionException;

/**
 * The options every command takes, before or after its name and the names of nested commands, as
 * {@code virsh -c URI migrate ...} and {@code kubectl --context X get ...} do: where the daemon is
 * ({@code --daemon}) and how to print ({@code --format}). A mixin of the root command whose options picocli
 * inherits into every subcommand; wherever one is given, the value lands here, in the root's instance, which
 * commands read with {@link #of}. An option added here is global too. The offline stream tools do not connect:
 * they ignore {@code --daemon}.
 */
public final class GlobalOptions {

    /** The name of the root command's mixin. */
    static final String MIXIN = "global";

    /** Environment variable naming the default daemon address. */
    public static final String ADDR_ENV = "MIGRATIOND_ADDR";
    /** The default control address of a daemon. */
    public static final String DEFAULT_ADDR = "127.0.0.1:7100";

    /** Output formats. */
    public enum Format { text, json }

    @Option(names = "--daemon", paramLabel = "HOST:PORT", scope = ScopeType.INHERIT,
            description = "Daemon control address (default: $" + ADDR_ENV + ", else " + DEFAULT_ADDR + ").")
    String daemon;

    @Option(names = "--format", paramLabel = "text|json", scope = ScopeType.INHERIT, converter = FormatWords.class,
            completionCandidates = FormatWords.class,
            description = "Output format: text (for people, the default) or json (for scripts).")
    Format format;

    /**
     * The global options of the command line {@code spec} belongs to; their defaults for a command used on its
     * own, outside {@link MigrationCtl}.
     */
    public static GlobalOptions of(CommandSpec spec) {
        CommandSpec mixin = spec.root().mixins().get(MIXIN);
        return mixin != null && mixin.userObject() instanceof GlobalOptions g ? g : new GlobalOptions();
    }

    /** The address to dial: the option, the environment, the default. */
    public String address() {
        if (daemon != null && !daemon.isBlank()) {
            return daemon;
        }
        String env = System.getenv(ADDR_ENV);
        return env != null && !env.isBlank() ? env.trim() : DEFAULT_ADDR;
    }

    /** Whether results are printed as JSON. */
    public boolean json() {
        return format == Format.json;
    }

    /** {@code text} and {@code json}; a stream format given here instead of to --stream-format is named as such. */
    static final class FormatWords implements ITypeConverter<Format>, Iterable<String> {
        @Override
        public Format convert(String value) {
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "text" -> Format.text;
                case "json" -> Format.json;
                case "legacy", "v2" -> throw new TypeConversionException("'" + value + "' is a stream format: say "
                        + "--stream-format " + value + " (--format is the output format: text or json)");
                default -> throw new TypeConversionException("'" + value + "': expected text or json");
            };
        }

        @Override
        public Iterator<String> iterator() {
            return List.of("text", "json").iterator();
        }
    }
}
