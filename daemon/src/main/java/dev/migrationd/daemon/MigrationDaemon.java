package dev.migrationd.daemon;

import dev.migrationd.daemon.engine.fault.Failpoints;
import dev.migrationd.daemon.engine.MigrationEngine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code migrationd}: the per-host daemon. Settings come from {@code --config FILE} (format in
 * {@link DaemonConfig}) and flags, flags winning. Runs until SIGTERM or SIGINT, then stops cleanly.
 *
 * <p>Exit codes: 0 stopped cleanly; 1 could not start for a reason that may pass (address in use, state
 * directory); 2 bad flags or configuration (also a malformed {@code MIGRATIOND_FAILPOINTS}); 3 this host
 * cannot run the configured backend.
 */
@Command(name = "migrationd", mixinStandardHelpOptions = true, version = "migrationd 0.1.0",
        description = "Per-host live-migration daemon. Every setting can be given in the config file (key = value, "
                + "keys as the flags without --, peers as peer.NAME = HOST:PORT) and as a flag; flags win.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:stopped cleanly (SIGTERM/SIGINT)", "1:could not start, for a reason that may pass: address in use, "
                + "state directory or journal I/O", "2:bad flags or configuration",
                "3:this host cannot run the configured backend (e.g. xen off a Xen dom0)"},
        footerHeading = "%nSignals:%n",
        footer = {"SIGTERM, SIGINT  stop: cancel migrations before their commit point, finish the others",
                "SIGHUP           re-read the config file: the peer list, the peers' permissions and the control "
                        + "roles are replaced, TLS files re-read; other changed settings are logged and wait for a restart",
                "", "Under systemd (Type=notify) the daemon reports READY=1 once every listener is bound."})
public final class MigrationDaemon implements Callable<Integer> {

    /** The system property logback.xml reads to pick its appender ({@code text} or {@code json}). */
    public static final String LOG_FORMAT_PROPERTY = "migrationd.log.format";
    static final List<String> LOG_FORMATS = List.of("text", "json");

    /** Asked for only after main has chosen the log format (the first logger call configures logback). */
    private static org.slf4j.Logger log() {
        return org.slf4j.LoggerFactory.getLogger(MigrationDaemon.class);
    }

    public static final int EXIT_START_FAILED = 1;
    public static final int EXIT_CONFIG = 2;
    /** The configured backend cannot run on this host: restarting will not help (systemd's RestartPreventExitStatus). */
    public static final int EXIT_BACKEND_UNAVAILABLE = 3;

    @Option(names = "--config", paramLabel = "FILE", description = "Config file (key = value lines).")
    Path configFile;

    @Option(names = "--name", paramLabel = "NAME", description = "This daemon's peer name (default: the host name).")
    String name;

    @Option(names = "--backend", paramLabel = "sim|xen|kvm", description = "Hypervisor backend (default: sim).")
    String backend;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Journal, history, sim domains (default: /var/lib/migrationd).")
    String stateDir;

    @Option(names = "--control-listen", paramLabel = "unix:PATH|HOST:PORT[,...]",
            description = "gRPC control API: a Unix socket and/or TCP (mutual TLS with --control-tls-*; plaintext only on "
                    + "loopback) (default: unix:/run/migrationd/control.sock).")
    String controlListen;

    @Option(names = "--control-socket-mode", paramLabel = "MODE", description = "The control socket file's mode, octal (default: 0660).")
    String controlSocketMode;

    @Option(names = "--control-socket-group", paramLabel = "GROUP", description = "The group the control socket file is given to (default: the daemon's).")
    String controlSocketGroup;

    @Option(names = "--control-operators", paramLabel = "WHO[,...]", description = "Who may migrate, cancel, save, restore, "
            + "create and destroy: USER, UID, @GROUP, @GID, cert:NAME (root and the daemon's own user always may).")
    String controlOperators;

    @Option(names = "--control-readers", paramLabel = "WHO[,...]", description = "Who may list, watch and inspect (same forms).")
    String controlReaders;

    @Option(names = "--control-loopback-role", paramLabel = "operator|read-only|none",
            description = "The role of every caller on a plaintext loopback TCP control address (default: operator).")
    String controlLoopbackRole;

    @Option(names = "--control-tls-ca", paramLabel = "FILE", description = "Control API mutual TLS on TCP: PEM bundle of the CAs of client certificates.")
    String controlTlsCa;

    @Option(names = "--control-tls-cert", paramLabel = "FILE", description = "The control API's server certificate chain (PEM).")
    String controlTlsCert;

    @Option(names = "--control-tls-key", paramLabel = "FILE", description = "Its private key (PEM).")
    String controlTlsKey;

    @Option(names = "--peer-listen", paramLabel = "HOST:PORT", description = "Migrations from peers (default: 127.0.0.1:7101).")
    String peerListen;

    @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", description = "Prometheus /metrics (default: 127.0.0.1:9101).")
    String metricsListen;

    @Option(names = "--sim-prefault", arity = "0..1", paramLabel = "true|false", fallbackValue = "true",
            description = "sim: prefault the whole memory of an incoming guest before its pages arrive (default: false).")
    Boolean simPrefault;

    @Option(names = "--health-listen", paramLabel = "HOST:PORT",
            description = "Also serve only the gRPC health service here (grpc.health.v1), e.g. for kubelet probes "
                    + "on the node's address while the control API stays on loopback (default: none).")
    String healthListen;

    @Option(names = "--handshake-timeout", paramLabel = "DURATION",
            description = "How long to wait for a peer's Accept/Reject, Received/Failed, Go, Running and in-doubt answer "
                    + "(default: 60s). Durations: a whole number with ms, s, m or h.")
    String handshakeTimeout;

    @Option(names = "--idle-timeout", paramLabel = "DURATION",
            description = "How long a destination waits for the next stream byte before failing (default: 60s).")
    String idleTimeout;

    @Option(names = "--in-doubt-retry", paramLabel = "DURATION",
            description = "Delay between attempts to ask a destination about an in-doubt migration (default: 2s).")
    String inDoubtRetry;

    @Option(names = "--abort-wait", paramLabel = "DURATION",
            description = "How long a source stopping before the commit point waits for the destination to confirm "
                    + "its copy is gone (default: 10s).")
    String abortWait;

    @Option(names = "--close-wait", paramLabel = "DURATION",
            description = "How long a stopping daemon waits for migrations past the commit point to end (default: 30s).")
    String closeWait;

    @Option(names = "--connect-timeout", paramLabel = "DURATION",
            description = "How long an outgoing peer connection may take to be established (default: 10s).")
    String connectTimeout;

    @Option(names = "--log-format", paramLabel = "text|json", defaultValue = "${env:MIGRATIOND_LOG_FORMAT:-text}",
            description = "Log lines as key=value text (default) or one JSON object per line (logback's JSON encoder); "
                    + "also $MIGRATIOND_LOG_FORMAT. Under systemd each line starts with its journald priority.")
    String logFormat;

    @Option(names = "--journal-retention", paramLabel = "DURATION",
            description = "How long the journal keeps ended migrations, answering peers in doubt: NUMBERh or NUMBERd (default: 7d).")
    String journalRetention;

    @Option(names = "--journal-repair", description = "Repair a journal the daemon refused to open as damaged in the "
            + "middle, then exit (run it with the daemon stopped, after copying the state directory): the whole file is "
            + "kept as migrations.journal.damaged-TIME and the journal cut where the damage starts.")
    boolean journalRepair;

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

    @Option(names = "--compression", paramLabel = "auto|lz4|zstd|off",
            description = "Compress the stream between daemons: auto (default) compresses with LZ4 when a migration "
                    + "has a bandwidth cap of at most 256 MiB/s and frames go plain otherwise; lz4 or zstd always "
                    + "(frames of memory that does not compress still go plain); off never. Both daemons must agree "
                    + "(the destination picks from what the source offers); a peer without compression gets plain frames.")
    String compression;

    @Option(names = "--save-dirs", paramLabel = "DIR[,DIR...]", description = "Save and restore only in these directories.")
    String saveDirs;

    @Option(names = "--limit", paramLabel = "KEY=VALUE", description = "A resource limit (repeatable), e.g. "
            + "max-incoming-migrations=4, max-offer-memory=64GiB, incoming-min-rate=64KiB/s, peer-write-timeout=30s; "
            + "the keys and defaults are in the README.")
    List<String> limits = new ArrayList<>();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** {@code --journal-repair}: one line on stdout saying what was done, or on stderr why it could not be. */
    private static int repairJournal(DaemonConfig config, java.io.PrintWriter out, java.io.PrintWriter err) {
        try {
            Optional<String> done = MigrationEngine.repairDamagedJournal(config.stateDir());
            out.println(done.map(d -> "migrationd: " + d + "; start migrationd as usual").orElse(
                    "migrationd: the journal in " + config.stateDir() + " is not damaged; nothing was changed"));
            out.flush();
            return 0;
        } catch (java.io.IOException e) {
            err.println("migrationd: --journal-repair failed: " + e.getMessage());
            err.flush();
            return EXIT_START_FAILED;
        }
    }

    /** Builds the configuration from the file and the flags. */
    DaemonConfig config() throws ConfigException {
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put(DaemonConfig.KEY_NAME, name);
        flags.put(DaemonConfig.KEY_BACKEND, backend);
        flags.put(DaemonConfig.KEY_STATE_DIR, stateDir);
        flags.put(DaemonConfig.KEY_CONTROL_LISTEN, controlListen);
        flags.put(ControlConfig.KEY_SOCKET_MODE, controlSocketMode);
        flags.put(ControlConfig.KEY_SOCKET_GROUP, controlSocketGroup);
        flags.put(ControlConfig.KEY_OPERATORS, controlOperators);
        flags.put(ControlConfig.KEY_READERS, controlReaders);
        flags.put(ControlConfig.KEY_LOOPBACK_ROLE, controlLoopbackRole);
        flags.put(ControlConfig.KEY_TLS_CA, controlTlsCa);
        flags.put(ControlConfig.KEY_TLS_CERT, controlTlsCert);
        flags.put(ControlConfig.KEY_TLS_KEY, controlTlsKey);
        flags.put(DaemonConfig.KEY_PEER_LISTEN, peerListen);
        flags.put(DaemonConfig.KEY_METRICS_LISTEN, metricsListen);
        flags.put(DaemonConfig.KEY_SIM_PREFAULT, simPrefault == null ? null : simPrefault.toString());
        flags.put(PeerLinkConfig.KEY_TLS_CA, tlsCa);
        flags.put(PeerLinkConfig.KEY_TLS_CERT, tlsCert);
        flags.put(PeerLinkConfig.KEY_TLS_KEY, tlsKey);
        flags.put(PeerLinkConfig.KEY_INSECURE, insecurePeerLink == null ? null : insecurePeerLink.toString());
        flags.put(PeerLinkConfig.KEY_COMPRESSION, compression);
        flags.put(DaemonConfig.KEY_SAVE_DIRS, saveDirs);
        for (String l : limits) {
            int eq = l.indexOf('=');
            String key = eq > 0 ? l.substring(0, eq).trim() : "";
            if (!LimitsConfig.KEYS.contains(key)) {
                throw new ConfigException("--limit '" + l + "': expected KEY=VALUE with KEY one of " + String.join(", ", LimitsConfig.KEYS));
            }
            flags.put(key, l.substring(eq + 1).trim());
        }
        flags.put(DaemonConfig.KEY_HEALTH_LISTEN, healthListen);
        flags.put(DaemonConfig.KEY_JOURNAL_RETENTION, journalRetention);
        flags.put(DaemonConfig.KEY_HANDSHAKE_TIMEOUT, handshakeTimeout);
        flags.put(DaemonConfig.KEY_IDLE_TIMEOUT, idleTimeout);
        flags.put(DaemonConfig.KEY_IN_DOUBT_RETRY, inDoubtRetry);
        flags.put(DaemonConfig.KEY_ABORT_WAIT, abortWait);
        flags.put(DaemonConfig.KEY_CLOSE_WAIT, closeWait);
        flags.put(DaemonConfig.KEY_CONNECT_TIMEOUT, connectTimeout);
        return DaemonConfig.resolve(configFile, flags, peers, peerAllows);
    }

    @Override
    public Integer call() {
        var err = spec.commandLine().getErr();
        if (!LOG_FORMATS.contains(logFormat)) {
            err.println("migrationd: --log-format '" + logFormat + "': expected text or json (see migrationd --help)");
            err.flush();
            return EXIT_CONFIG;
        }
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
                log().atWarn().setMessage("event=failpoints_armed").addKeyValue("failpoints", Failpoints.armed().toString())
                        .addKeyValue("note", "test use only").log();
            }
        } catch (ExceptionInInitializerError e) {
            // a malformed MIGRATIOND_FAILPOINTS: Failpoints refused it when it loaded
            err.println("migrationd: " + e.getCause().getMessage());
            err.flush();
            return EXIT_CONFIG;
        }
        if (journalRepair) {
            return repairJournal(config, spec.commandLine().getOut(), err);
        }
        Optional<SystemdNotify> systemd = SystemdNotify.fromEnvironment();
        // Signals are handled from before the daemon logs that it started (a supervisor may act on that line
        // at once): SIGTERM waits until the start has ended, then stops what started; SIGHUP before the start
        // has ended changes nothing.
        AtomicReference<Daemon> running = new AtomicReference<>();
        CountDownLatch startEnded = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        sun.misc.SignalHandler before = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> {
            Daemon d = running.get();
            if (d != null) {
                reload(d, systemd);
            }
        });
        if (before == sun.misc.SignalHandler.SIG_IGN) {
            // the JVM keeps a signal ignored that its parent ignored (nohup): no reload in this process
            log().atWarn().setMessage("event=sighup_ignored")
                    .addKeyValue("reason", "started with SIGHUP ignored (nohup?); the config cannot be reloaded").log();
        }
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("migrationd-shutdown").unstarted(() -> {
            boolean interrupted = false;
            while (startEnded.getCount() > 0) {
                try {
                    startEnded.await();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Daemon d = running.get();
            if (d == null) {
                return; // the start failed: main exits with its code
            }
            notify(systemd, "STOPPING=1");
            d.close();
            stopped.countDown();
            // a signal-initiated JVM exit reports 128+signal (143); the daemon stopped cleanly, so say 0
            Runtime.getRuntime().halt(0);
        }));
        Daemon daemon;
        try {
            daemon = Daemon.start(config);
            running.set(daemon);
        } catch (Daemon.StartException e) {
            err.println("migrationd: " + e.getMessage());
            err.flush();
            return e.permanent() ? EXIT_BACKEND_UNAVAILABLE : EXIT_START_FAILED;
        } finally {
            startEnded.countDown();
        }
        notify(systemd, "READY=1\nSTATUS=control " + daemon.controlAddresses() + ", peers " + daemon.peerPort()
                + ", metrics " + daemon.metricsPort());
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** SIGHUP (systemctl reload): re-reads the file and flags; a bad file is logged and changes nothing. */
    private void reload(Daemon daemon, Optional<SystemdNotify> systemd) {
        notify(systemd, "RELOADING=1\nMONOTONIC_USEC=" + monotonicMicros());
        try {
            daemon.reload(config());
        } catch (ConfigException e) {
            log().atError().setMessage("event=config_reload_failed").addKeyValue("error", e.getMessage()).log();
        } finally {
            notify(systemd, "READY=1");
        }
    }

    /** CLOCK_MONOTONIC in microseconds, as systemd wants it with RELOADING=1 (System.nanoTime reads that clock on Linux). */
    private static long monotonicMicros() {
        return System.nanoTime() / 1_000;
    }

    private static void notify(Optional<SystemdNotify> systemd, String state) {
        systemd.ifPresent(n -> {
            try {
                n.send(state);
            } catch (java.io.IOException | RuntimeException e) {
                log().atWarn().setMessage("event=sd_notify_failed").addKeyValue("socket", n.socket())
                        .addKeyValue("error", e.getMessage()).log();
            }
        });
    }

    /** The log format the arguments (or $MIGRATIOND_LOG_FORMAT) ask for; picocli refuses a bad value later. */
    static String logFormat(String[] args) {
        String format = System.getenv().getOrDefault("MIGRATIOND_LOG_FORMAT", "text");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--log-format") && i + 1 < args.length) {
                format = args[i + 1];
            } else if (args[i].startsWith("--log-format=")) {
                format = args[i].substring("--log-format=".length());
            }
        }
        return format;
    }

    public static void main(String[] args) {
        String format = logFormat(args);
        if (LOG_FORMATS.contains(format)) {
            System.setProperty(LOG_FORMAT_PROPERTY, format); // before anything logs
        }
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
