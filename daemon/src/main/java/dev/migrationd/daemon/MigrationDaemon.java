package dev.migrationd.daemon;

import dev.migrationd.daemon.engine.fault.Failpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code migrationd}: the per-host daemon. Settings come from {@code --config FILE} (format in
 * {@link DaemonConfig}) and flags, flags winning. Runs until SIGTERM or SIGINT, then stops cleanly.
 *
 * <p>Exit codes: 0 stopped cleanly; 1 could not start (backend unavailable, state directory, address in
 * use); 2 bad flags or configuration.
 */
@Command(name = "migrationd", mixinStandardHelpOptions = true, version = "migrationd 0.1.0",
        description = "Per-host live-migration daemon. Every setting can be given in the config file (key = value, "
                + "keys as the flags without --, peers as peer.NAME = HOST:PORT) and as a flag; flags win.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:stopped cleanly (SIGTERM/SIGINT)", "1:could not start: backend, state directory, address in use",
                "2:bad flags or configuration"})
public final class MigrationDaemon implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(MigrationDaemon.class);

    public static final int EXIT_START_FAILED = 1;
    public static final int EXIT_CONFIG = 2;

    @Option(names = "--config", paramLabel = "FILE", description = "Config file (key = value lines).")
    Path configFile;

    @Option(names = "--name", paramLabel = "NAME", description = "This daemon's peer name (default: the host name).")
    String name;

    @Option(names = "--backend", paramLabel = "sim|xen|kvm", description = "Hypervisor backend (default: sim).")
    String backend;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Journal, history, sim domains (default: /var/lib/migrationd).")
    String stateDir;

    @Option(names = "--control-listen", paramLabel = "HOST:PORT", description = "gRPC control API (default: 127.0.0.1:7100).")
    String controlListen;

    @Option(names = "--peer-listen", paramLabel = "HOST:PORT", description = "Migrations from peers (default: 127.0.0.1:7101).")
    String peerListen;

    @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", description = "Prometheus /metrics (default: 127.0.0.1:9101).")
    String metricsListen;

    @Option(names = "--sim-prefault", arity = "0..1", paramLabel = "true|false", fallbackValue = "true",
            description = "sim: prefault the whole memory of an incoming guest before its pages arrive (default: false).")
    Boolean simPrefault;

    @Option(names = "--peer", paramLabel = "NAME=HOST:PORT", description = "A peer daemon (repeatable).")
    List<String> peers = new ArrayList<>();

    @Option(names = "--peer-allow", paramLabel = "NAME=PERMS", description = "What a peer may do here: migrate, query "
            + "(comma-separated) or none; deny by default (repeatable; file: peer.NAME.allow = migrate,query).")
    List<String> peerAllows = new ArrayList<>();

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "Peer link mutual TLS: PEM bundle of trusted CAs.")
    String tlsCa;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "This host's certificate chain (PEM; subjectAltName DNS:NAME).")
    String tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Its private key (PEM: PKCS#8, or traditional RSA/EC).")
    String tlsKey;

    @Option(names = "--insecure-peer-link", arity = "0..1", paramLabel = "true|false", fallbackValue = "true",
            description = "Plaintext peer link without TLS: anyone who can reach --peer-listen can send migrations.")
    Boolean insecurePeerLink;

    @Option(names = "--save-dirs", paramLabel = "DIR[,DIR...]", description = "Save and restore only in these directories.")
    String saveDirs;

    @Option(names = "--limit", paramLabel = "KEY=VALUE", description = "A resource limit (repeatable), e.g. "
            + "max-incoming-migrations=4, max-offer-memory=64GiB, incoming-min-rate=64KiB/s, peer-write-timeout=30s; "
            + "the keys and defaults are in the README.")
    List<String> limits = new ArrayList<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Builds the configuration from the file and the flags. */
    DaemonConfig config() throws ConfigException {
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put(DaemonConfig.KEY_NAME, name);
        flags.put(DaemonConfig.KEY_BACKEND, backend);
        flags.put(DaemonConfig.KEY_STATE_DIR, stateDir);
        flags.put(DaemonConfig.KEY_CONTROL_LISTEN, controlListen);
        flags.put(DaemonConfig.KEY_PEER_LISTEN, peerListen);
        flags.put(DaemonConfig.KEY_METRICS_LISTEN, metricsListen);
        flags.put(DaemonConfig.KEY_SIM_PREFAULT, simPrefault == null ? null : simPrefault.toString());
        flags.put(PeerLinkConfig.KEY_TLS_CA, tlsCa);
        flags.put(PeerLinkConfig.KEY_TLS_CERT, tlsCert);
        flags.put(PeerLinkConfig.KEY_TLS_KEY, tlsKey);
        flags.put(PeerLinkConfig.KEY_INSECURE, insecurePeerLink == null ? null : insecurePeerLink.toString());
        flags.put(DaemonConfig.KEY_SAVE_DIRS, saveDirs);
        for (String l : limits) {
            int eq = l.indexOf('=');
            String key = eq > 0 ? l.substring(0, eq).trim() : "";
            if (!LimitsConfig.KEYS.contains(key)) {
                throw new ConfigException("--limit '" + l + "': expected KEY=VALUE with KEY one of " + String.join(", ", LimitsConfig.KEYS));
            }
            flags.put(key, l.substring(eq + 1).trim());
        }
        return DaemonConfig.resolve(configFile, flags, peers, peerAllows);
    }

    @Override
    public Integer call() {
        var err = spec.commandLine().getErr();
        DaemonConfig config;
        try {
            config = config();
        } catch (ConfigException e) {
            err.println("migrationd: " + e.getMessage());
            err.flush();
            return EXIT_CONFIG;
        }
        try {
            if (!Failpoints.armed().isEmpty()) {
                LOG.warn("event=failpoints_armed failpoints=\"{}\" note=\"test use only\"", Failpoints.armed());
            }
        } catch (ExceptionInInitializerError e) {
            err.println("migrationd: " + e.getCause().getMessage());
            err.flush();
            return EXIT_CONFIG;
        }
        Daemon daemon;
        try {
            daemon = Daemon.start(config);
        } catch (Daemon.StartException e) {
            err.println("migrationd: " + e.getMessage());
            err.flush();
            return EXIT_START_FAILED;
        }
        // SIGHUP: re-read the TLS files; running migrations keep their connections
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> daemon.reloadTls());
        } catch (IllegalArgumentException e) {
            LOG.warn("event=sighup_unavailable error=\"{}\"", e.getMessage());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("migrationd-shutdown").unstarted(() -> {
            daemon.close();
            stopped.countDown();
            // a signal-initiated JVM exit reports 128+signal (143); the daemon stopped cleanly, so say 0
            Runtime.getRuntime().halt(0);
        }));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new MigrationDaemon());
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("migrationd: " + ex.getMessage() + " (see migrationd --help)");
            return EXIT_CONFIG;
        });
        int code = cl.execute(args);
        if (code != 0) {
            System.exit(code);
        }
        // code 0 means a signal stopped the daemon: the JVM is already exiting through the shutdown hook
    }
}
