package dev.migrationd.control.cli.daemon;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import picocli.CommandLine.Option;

/**
 * Options every daemon-facing command takes: where the daemon is and how to print. A mixin (not
 * inherited options) so that other subcommands may define their own {@code --format}.
 */
public final class ClientOptions {

    /** Environment variable naming the default daemon address. */
    public static final String ADDR_ENV = "MIGRATIOND_ADDR";
    /** The default control address of a daemon. */
    public static final String DEFAULT_ADDR = "127.0.0.1:7100";

    /** Output formats. */
    public enum Format { text, json }

    @Option(names = "--daemon", paramLabel = "HOST:PORT",
            description = "Daemon control address (default: $" + ADDR_ENV + ", else " + DEFAULT_ADDR + ").")
    String daemon;

    @Option(names = "--format", paramLabel = "text|json", defaultValue = "text",
            description = "Output format: text (for people) or json (one object per line). Default: ${DEFAULT-VALUE}.")
    Format format = Format.text;

    /** The address to dial: the option, the environment, the default. */
    public String address() {
        if (daemon != null && !daemon.isBlank()) {
            return daemon;
        }
        String env = System.getenv(ADDR_ENV);
        return env != null && !env.isBlank() ? env.trim() : DEFAULT_ADDR;
    }

    public boolean json() {
        return format == Format.json;
    }

    /** A connection to the daemon; close it with {@link Connection#close()}. A bad address: IllegalArgumentException. */
    public Connection connect() {
        String addr = address();
        int colon = addr.lastIndexOf(':');
        if (colon <= 0 || colon == addr.length() - 1) {
            throw new IllegalArgumentException("--daemon '" + addr + "': expected HOST:PORT, e.g. " + DEFAULT_ADDR);
        }
        int port;
        try {
            port = Integer.parseInt(addr.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--daemon '" + addr + "': port must be 1..65535");
        }
        String host = addr.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        return new Connection(addr, channel);
    }
}
