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
 * ({@code --daemon}), the client certificate for a daemon that takes TCP with mutual TLS ({@code --tls-ca},
 * {@code --tls-cert}, {@code --tls-key}, {@code --tls-server-name}) and how to print ({@code --format}). A mixin of the root command whose options picocli
 * inherits into every subcommand; wherever one is given, the value lands here, in the root's instance, which
 * commands read with {@link #of}. An option added here is global too. The offline stream tools do not connect:
 * they ignore {@code --daemon}.
 */
public final class GlobalOptions {

    /** The name of the root command's mixin. */
    static final String MIXIN = "global";

    /** Environment variable naming the default daemon address. */
    public static final String ADDR_ENV = "MIGRATIOND_ADDR";
    /** The daemon's default control socket: the default address when it exists. */
    public static final String DEFAULT_SOCKET = "/run/migrationd/control.sock";
    /** Prefix of a Unix socket address. */
    public static final String UNIX_PREFIX = "unix:";
    /** The default address when there is no control socket: a daemon on loopback TCP. */
    public static final String DEFAULT_ADDR = "127.0.0.1:7100";
    /** Environment variables of the TLS options (the option wins). */
    public static final String TLS_CA_ENV = "MIGRATIOND_TLS_CA";
    public static final String TLS_CERT_ENV = "MIGRATIOND_TLS_CERT";
    public static final String TLS_KEY_ENV = "MIGRATIOND_TLS_KEY";

    /** Output formats. */
    public enum Format { text, json }

    /**
     * Where migrationctl looks for the daemon when no {@code --daemon} is given: the environment ({@link #ADDR_ENV},
     * and the TLS variables), the control socket if that file exists, else a TCP address. Not an option: the
     * program uses {@link #SYSTEM}; a test gives its own ({@link MigrationCtl#commandLine(Defaults)}), so that it
     * checks the discovery against a daemon of its own without touching the real socket or the real environment.
     *
     * @param env    the environment (name to value, or null)
     * @param socket the default control socket
     * @param tcp    the address used when that socket does not exist
     */
    public record Defaults(java.util.function.Function<String, String> env, java.nio.file.Path socket, String tcp) {
        public static final Defaults SYSTEM = new Defaults(System::getenv, java.nio.file.Path.of(DEFAULT_SOCKET), DEFAULT_ADDR);
    }

    /** Set once, by {@link MigrationCtl#commandLine(Defaults)}, before any command runs. */
    Defaults defaults = Defaults.SYSTEM;

    @Option(names = "--daemon", paramLabel = "unix:PATH|HOST:PORT", scope = ScopeType.INHERIT,
            description = "Daemon control address (default: $" + ADDR_ENV + ", else " + UNIX_PREFIX + DEFAULT_SOCKET
                    + " if it exists, else " + DEFAULT_ADDR + ").")
    String daemon;

    @Option(names = "--tls-ca", paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "TCP with mutual TLS: the CA(s) of the daemon's certificate, PEM (or $" + TLS_CA_ENV + ").")
    String tlsCa;

    @Option(names = "--tls-cert", paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "Your client certificate, PEM; its name decides your role there (or $" + TLS_CERT_ENV + ").")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "Its private key, PEM (or $" + TLS_KEY_ENV + ").")
    String tlsKey;

    @Option(names = "--tls-server-name", paramLabel = "NAME", scope = ScopeType.INHERIT,
            description = "The name the daemon's certificate must have (default: the host of --daemon).")
    String tlsServerName;

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

    /**
     * The address to dial: the option, the environment, else the daemon's default socket if it exists (as
     * {@code virsh} finds libvirt's), else {@link #DEFAULT_ADDR}.
     */
    public String address() {
        if (daemon != null && !daemon.isBlank()) {
            return daemon;
        }
        String env = defaults.env().apply(ADDR_ENV);
        if (env != null && !env.isBlank()) {
            return env.trim();
        }
        return java.nio.file.Files.exists(defaults.socket()) ? UNIX_PREFIX + defaults.socket() : defaults.tcp();
    }

    /**
     * When the address was found by looking (neither {@code --daemon} nor {@link #ADDR_ENV}) and the default
     * socket was not there: the socket looked for, to name in the error when the TCP default does not answer
     * either; else null.
     */
    public String socketLookedFor() {
        boolean told = daemon != null && !daemon.isBlank();
        String env = defaults.env().apply(ADDR_ENV);
        return told || env != null && !env.isBlank() || java.nio.file.Files.exists(defaults.socket()) ? null
                : defaults.socket().toString();
    }

    /** The client's TLS files, when any is given (option or environment); all three are needed then. */
    public ClientTls tls() {
        String ca = orEnv(tlsCa, TLS_CA_ENV);
        String cert = orEnv(tlsCert, TLS_CERT_ENV);
        String key = orEnv(tlsKey, TLS_KEY_ENV);
        return new ClientTls(ca, cert, key, tlsServerName);
    }

    /**
     * The TLS options as given (null when not).
     *
     * @param serverName the name the daemon's certificate must carry, or null for the host dialled
     */
    public record ClientTls(String ca, String cert, String key, String serverName) {
        /** Whether any TLS option was given. */
        public boolean any() {
            return ca != null || cert != null || key != null || serverName != null;
        }
    }

    private String orEnv(String option, String env) {
        if (option != null && !option.isBlank()) {
            return option;
        }
        String v = defaults.env().apply(env);
        return v != null && !v.isBlank() ? v.trim() : null;
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
