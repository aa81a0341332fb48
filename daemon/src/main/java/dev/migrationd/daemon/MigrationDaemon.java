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

    @Option(names = "--journal-retention", paramLabel = "DURATION",
            description = "How long the journal keeps ended migrations, answering peers in doubt: NUMBERh or NUMBERd (default: 7d).")
    String journalRetention;

    @Option(names = "--peer", paramLabel = "NAME=HOST:PORT", description = "A peer daemon (repeatable).")
    List<String> peers = new ArrayList<>();

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
        flags.put(DaemonConfig.KEY_JOURNAL_RETENTION, journalRetention);
        return DaemonConfig.resolve(configFile, flags, peers);
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
