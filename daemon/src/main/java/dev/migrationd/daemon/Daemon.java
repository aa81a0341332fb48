package dev.migrationd.daemon;

import dev.migrationd.daemon.control.ControlAccess;
import dev.migrationd.daemon.control.ControlAuthorizer;
import dev.migrationd.daemon.control.ControlListeners;
import dev.migrationd.daemon.control.ControlRole;
import dev.migrationd.daemon.control.ControlServer;
import dev.migrationd.daemon.control.UnixAccounts;
import dev.migrationd.daemon.tls.ControlTls;
import dev.migrationd.daemon.control.ControlService;
import dev.migrationd.daemon.control.SimDomains;
import dev.migrationd.daemon.engine.EngineConfig;
import dev.migrationd.daemon.engine.MigrationEngine;
import dev.migrationd.daemon.metrics.MetricsBinder;
import dev.migrationd.daemon.metrics.MetricsEndpoint;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerLinkSettings;
import dev.migrationd.daemon.transport.PeerRefusal;
import dev.migrationd.daemon.transport.PeerTransport;
import dev.migrationd.daemon.tls.PeerTls;
import dev.migrationd.daemon.tls.TlsException;
import dev.migrationd.daemon.tls.TlsFiles;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import dev.migrationd.hypervisor.sim.SimHypervisor;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running migrationd: the composition root. {@link #start} opens the backend, the engine, the
 * metrics endpoint, the control API and the peer listener, in that order; a failure closes what was
 * opened and throws {@link StartException} with one line. {@link #close()} stops accepting (control and
 * peers), lets the engine end its migrations safely (it cancels those before the commit point and
 * waits for the rest), then closes the rest in reverse order.
 *
 * <p>Threading: start and close run on one thread (main, or the shutdown hook); close is idempotent.
 */
public final class Daemon implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

    private final DaemonConfig config;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private MigrationEngine engine;
    private ControlServer control;
    private PeerServer peers;
    private MetricsEndpoint metrics;
    private PrometheusMeterRegistry registry;
    private Optional<PeerTls> tls = Optional.empty();
    private Optional<ControlTls> controlTls = Optional.empty();
    private NettyPeerConnector connector;
    private int healthPort = -1;
    /** The configuration in force: replaced by {@link #reload}. */
    private volatile DaemonConfig current;
    private boolean closed;
    private boolean started;

    /** Start-up failed; the message is the one line to print. */
    public static final class StartException extends Exception {
        private final boolean permanent;

        public StartException(String message, Throwable cause) {
            this(message, cause, false);
        }

        /** @param permanent this host cannot run the configuration as it is: starting again will fail again */
        public StartException(String message, Throwable cause, boolean permanent) {
            super(message, cause);
            this.permanent = permanent;
        }

        /** True when retrying cannot help (e.g. the backend cannot run on this host), false when it may. */
        public boolean permanent() {
            return permanent;
        }
    }

    private Daemon(DaemonConfig config) {
        this.config = config;
        this.current = config;
    }

    public static Daemon start(DaemonConfig config) throws StartException {
        Daemon d = new Daemon(config);
        try {
            d.open();
            return d;
        } catch (StartException e) {
            d.close();
            throw e;
        } catch (RuntimeException e) {
            d.close();
            throw new StartException("start-up failed: " + e, e);
        }
    }

    private void open() throws StartException {
        try {
            Files.createDirectories(config.stateDir());
        } catch (IOException e) {
            throw new StartException("cannot create the state directory " + config.stateDir() + ": " + e.getMessage(), e);
        }
        Hypervisor hypervisor;
        try {
            hypervisor = HypervisorProvider.open(config.backend(), config.stateDir(), config.backendOptions());
        } catch (HypervisorException e) {
            // the backend exists but cannot run here (not a Xen dom0, not implemented): restarting will not help
            throw new StartException(e.getMessage(), e, true);
        }
        opened.push(hypervisor);
        tls = openTls();
        if (config.control().tls().isPresent()) {
            try {
                controlTls = Optional.of(ControlTls.open(config.control().tls().get()));
            } catch (TlsException e) {
                throw new StartException(e.getMessage(), e);
            }
        }
        LimitsConfig limits = config.limits();
        DaemonConfig.Timeouts t = config.timeouts();
        PeerTransport transport = new PeerTransport(new PeerLinkSettings(tls, limits.maxConnections(), limits.maxHandshakes(),
                limits.maxHandshakesPerAddress(), limits.handshakeTimeout(), limits.writeTimeout(),
                config.peerLink().compression()), t.connect());
        opened.push(transport);
        connector = new NettyPeerConnector(transport, config.peers(), config.peerLink().allowed());
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("host", config.name());
        Gauge.builder(PEER_LINK_INSECURE_METER, () -> tls.isEmpty() ? 1 : 0)
                .description("1 when the peer link runs in plaintext (--insecure-peer-link), 0 with mutual TLS")
                .tag("tls_provider", tls.map(PeerTls::provider).orElse("none")).register(registry);
        bindPeerConnectionMeters(transport);
        // the metrics hear the recovery too: a migration recovered in doubt, an alert raised while replaying
        MetricsBinder metricsBinder = new MetricsBinder(registry);
        try {
            engine = new MigrationEngine(EngineConfig.of(config.name(), hypervisor, config.stateDir(), connector)
                    .withJournalRetention(config.journalRetention())
                    .withMaxIncomingBytes(limits.maxIncomingBytes()).withIncomingLimits(limits.incoming())
                    .withSaveDirs(config.saveDirs())
                    .withTimeouts(t.handshake(), t.idle(), t.inDoubtRetry()).withWaits(t.abortWait(), t.closeWait()),
                    List.of(metricsBinder));
        } catch (IOException e) {
            throw new StartException("cannot open the journal in " + config.stateDir() + ": " + e.getMessage(), e);
        }
        opened.push(engine);

        Optional<SimDomains> sim = hypervisor instanceof SimHypervisor s ? Optional.of(new SimBackend(s)) : Optional.empty();
        ControlService service = new ControlService(config.name(), engine, hypervisor, sim, Clock.systemUTC());

        metrics = listen("metrics-listen", config.metricsListen(), () -> MetricsEndpoint.start(config.metricsListen(), registry));
        opened.push(metrics);
        control = listen("control-listen", String.join(",", config.control().listen().stream().map(Daemon::describe).toList()),
                () -> new ControlServer(controlListeners(), service).start());
        opened.push(control);
        String[] bound = controlAddresses().split(",");
        for (int i = 0; i < control.listeners().size(); i++) {
            ControlServer.Listener l = control.listeners().get(i);
            LOG.atInfo().setMessage("event=control_listening").addKeyValue("address", bound[i])
                    .addKeyValue("transport", l.authorizer().transport().name().toLowerCase(java.util.Locale.ROOT)).log();
        }
        peers = listen("peer-listen", config.peerListen(),
                () -> PeerServer.start(transport, config.peerListen(), connector::knows, engine::acceptIncoming));
        opened.push(peers);
        if (config.healthListen().isPresent()) {
            InetSocketAddress at = config.healthListen().get();
            io.grpc.Server health = listen("health-listen", at,
                    () -> NettyServerBuilder.forAddress(at).addService(control.healthService()).build().start());
            opened.push(() -> {
                health.shutdownNow();
                health.awaitTermination(ControlServer.GRACE_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
            });
            healthPort = health.getPort();
            LOG.atInfo().setMessage("event=health_listening")
                    .addKeyValue("address", at.getAddress().getHostAddress() + ":" + healthPort).log();
        }
        control.serving();
        LOG.atInfo().setMessage("event=daemon_started")
                .addKeyValue("name", config.name())
                .addKeyValue("backend", hypervisor.backend())
                .addKeyValue("state_dir", config.stateDir())
                .addKeyValue("control", controlAddresses())
                .addKeyValue("peer", peers.address().getPort())
                .addKeyValue("metrics", metrics.address().getPort())
                .addKeyValue("peers", String.join(",", config.peers().keySet()))
                .addKeyValue("peer_tls", tls.map(PeerTls::provider).orElse("off")).log();
        started = true;
    }

    /** A control address as the configuration writes it. */
    private static String describe(ControlConfig.Address a) {
        return switch (a) {
            case ControlConfig.Address.Unix u -> ControlConfig.UNIX_PREFIX + u.path();
            case ControlConfig.Address.Tcp t -> t.address().getAddress().getHostAddress() + ":" + t.address().getPort();
        };
    }

    /** The control API's listeners, each with the authorizer its transport calls for. */
    private java.util.List<ControlServer.Listener> controlListeners() throws IOException {
        ControlConfig c = config.control();
        int self = selfUid();
        java.util.List<String> unresolved = c.access().unresolved(UnixAccounts.SYSTEM);
        if (!unresolved.isEmpty()) {
            LOG.atWarn().setMessage("event=control_grant_unknown").addKeyValue("entries", String.join(",", unresolved))
                    .addKeyValue("note", "no such user or group on this host; these entries match no one").log();
        }
        java.util.List<ControlServer.Listener> out = new java.util.ArrayList<>();
        for (ControlConfig.Address a : c.listen()) {
            switch (a) {
                case ControlConfig.Address.Unix u -> out.add(ControlListeners.unix(u.path(), c.socketMode(), c.socketGroup(),
                        authorizer(ControlAuthorizer.Transport.UNIX, self)));
                case ControlConfig.Address.Tcp t when controlTls.isPresent() -> {
                    try {
                        out.add(ControlListeners.tls(t.address(), controlTls.get().serverContext(),
                                authorizer(ControlAuthorizer.Transport.TLS, self)));
                    } catch (TlsException e) {
                        throw new IOException(e.getMessage(), e);
                    }
                }
                case ControlConfig.Address.Tcp t -> {
                    String role = c.access().loopbackRole().map(ControlRole::word).orElse(ControlConfig.ROLE_NONE);
                    if (c.access().loopbackRole().isPresent()) {
                        LOG.atWarn().setMessage("event=control_plaintext_loopback").addKeyValue("address", describe(a))
                                .addKeyValue("role", role).addKeyValue("warning", "PLAINTEXT CONTROL API ON LOOPBACK TCP: every "
                                        + "local user (every process in this network namespace) has the " + role + " role "
                                        + "there; use unix:PATH or mutual TLS (control-tls-*) for more, or set "
                                        + ControlConfig.KEY_LOOPBACK_ROLE).log();
                    }
                    out.add(ControlListeners.loopback(t.address(), authorizer(ControlAuthorizer.Transport.LOOPBACK, self)));
                }
            }
        }
        return out;
    }

    private ControlAuthorizer authorizer(ControlAuthorizer.Transport transport, int self) {
        return new ControlAuthorizer(transport, () -> current.control().access(), UnixAccounts.SYSTEM, self);
    }

    /** This process's uid (the owner of /proc/self). */
    private static int selfUid() throws IOException {
        return (Integer) Files.getAttribute(java.nio.file.Path.of("/proc/self"), "unix:uid");
    }

    /** Prometheus: {@code migrationd_peer_link_insecure}. */
    public static final String PEER_LINK_INSECURE_METER = "migrationd.peer.link.insecure";
    /** Incoming peer connections refused or cut off before they proved a configured peer, by {@link PeerRefusal}. */
    public static final String PEER_CONNECTIONS_REFUSED_METER = "migrationd.peer.connections.refused";
    /** Incoming peer connections open now, {@code state} unauthenticated or peer. */
    public static final String PEER_CONNECTIONS_OPEN_METER = "migrationd.peer.connections.open";

    private void bindPeerConnectionMeters(PeerTransport transport) {
        for (PeerRefusal why : PeerRefusal.values()) {
            FunctionCounter.builder(PEER_CONNECTIONS_REFUSED_METER, transport, t -> t.refused(why))
                    .description("incoming peer connections refused or cut off before they proved a configured peer")
                    .tag("reason", why.label()).register(registry);
        }
        Gauge.builder(PEER_CONNECTIONS_OPEN_METER, transport, PeerTransport::unauthenticatedConnections)
                .description("incoming peer connections open now; unauthenticated: not yet proven a configured peer")
                .tag("state", "unauthenticated").register(registry);
        Gauge.builder(PEER_CONNECTIONS_OPEN_METER, transport, PeerTransport::peerConnections)
                .description("incoming peer connections open now; unauthenticated: not yet proven a configured peer")
                .tag("state", "peer").register(registry);
    }

    /** The peer link's TLS, or the explicit, loudly logged plaintext choice. */
    private Optional<PeerTls> openTls() throws StartException {
        Optional<TlsFiles> files = config.peerLink().tls();
        if (files.isEmpty()) {
            LOG.warn("event=peer_link_insecure name={} peer_listen={} warning=\"PLAINTEXT PEER LINK (--insecure-peer-link): "
                    + "no TLS, no peer identity; anyone who can reach this port can send migrations claiming a peer's name\"",
                    config.name(), config.peerListen());
            return Optional.empty();
        }
        try {
            return Optional.of(PeerTls.open(files.get(), config.name()));
        } catch (TlsException e) {
            throw new StartException(e.getMessage(), e);
        }
    }

    /**
     * SIGHUP: re-reads the peer link's TLS files. New connections use the new material, open ones (running
     * migrations) keep theirs; if the new files are unusable the old material stays and the log says why.
     *
     * @return whether new material is in use
     */
    public boolean reloadTls() {
        if (tls.isEmpty()) {
            LOG.info("event=peer_tls_reload_skipped reason=\"insecure peer link\"");
            return false;
        }
        return reloadTls("peer", tls.get()::reload);
    }

    /** SIGHUP: re-reads the control API's TLS files, if it has any; unusable files leave the old ones in use. */
    private boolean reloadControlTls() {
        return controlTls.isPresent() && reloadTls("control", controlTls.get()::reload);
    }

    @FunctionalInterface
    private interface TlsReload {
        void reload() throws TlsException;
    }

    /** Runs one TLS reload; a failure is logged ({@code event=<which>_tls_reload_failed}) and the old material stays. */
    private static boolean reloadTls(String which, TlsReload reload) {
        try {
            reload.reload();
            return true;
        } catch (TlsException e) {
            LOG.error("event={}_tls_reload_failed error=\"{}\" action=\"kept the previous material\"", which, e.getMessage());
            return false;
        }
    }

    private static String grantsText(java.util.List<ControlAccess.Grant> grants) {
        return grants.isEmpty() ? "none" : String.join(",", grants.stream().map(ControlAccess.Grant::text).toList());
    }

    @FunctionalInterface
    private interface Opener<T> {
        T open() throws IOException;
    }

    private static <T> T listen(String what, InetSocketAddress address, Opener<T> opener) throws StartException {
        return listen(what, address.getAddress().getHostAddress() + ":" + address.getPort(), opener);
    }

    private static <T> T listen(String what, String address, Opener<T> opener) throws StartException {
        try {
            return opener.open();
        } catch (IOException e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            String why = root instanceof BindException || String.valueOf(root.getMessage()).contains("in use")
                    ? "address already in use" : root instanceof java.nio.file.AccessDeniedException denied
                    ? "permission denied: " + denied.getFile() : String.valueOf(root.getMessage());
            throw new StartException("cannot listen on " + address + " (" + what + "): " + why, e);
        }
    }

    /** The control addresses, bound ports filled in (for logs and the systemd status line). */
    public String controlAddresses() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < control.listeners().size(); i++) {
            String a = control.listeners().get(i).address();
            out.add(control.port(i) >= 0 ? a.substring(0, a.lastIndexOf(':') + 1) + control.port(i) : a);
        }
        return String.join(",", out);
    }

    /** The bound port of the first TCP control address (useful with port 0), or -1 without one. */
    public int controlPort() {
        return control.port();
    }

    public int peerPort() {
        return peers.address().getPort();
    }

    public int metricsPort() {
        return metrics.address().getPort();
    }

    /** The bound port of the health-only listener, or -1 without one. */
    public int healthPort() {
        return healthPort;
    }

    public DaemonConfig config() {
        return current;
    }

    /** The settings a reload does not apply (they wait for a restart), by config key. */
    private static final Map<String, java.util.function.Function<DaemonConfig, Object>> RESTART_ONLY = restartOnly();

    private static Map<String, java.util.function.Function<DaemonConfig, Object>> restartOnly() {
        Map<String, java.util.function.Function<DaemonConfig, Object>> m = new java.util.HashMap<>(Map.ofEntries(
                Map.entry(DaemonConfig.KEY_NAME, DaemonConfig::name), Map.entry(DaemonConfig.KEY_BACKEND, DaemonConfig::backend),
                Map.entry(DaemonConfig.KEY_STATE_DIR, DaemonConfig::stateDir),
                Map.entry(DaemonConfig.KEY_CONTROL_LISTEN, c -> c.control().listen()),
                Map.entry(ControlConfig.KEY_SOCKET_MODE, c -> c.control().socketMode()),
                Map.entry(ControlConfig.KEY_SOCKET_GROUP, c -> c.control().socketGroup()),
                Map.entry(ControlConfig.KEY_TLS_CA, c -> c.control().tls().map(TlsFiles::ca)),
                Map.entry(ControlConfig.KEY_TLS_CERT, c -> c.control().tls().map(TlsFiles::cert)),
                Map.entry(ControlConfig.KEY_TLS_KEY, c -> c.control().tls().map(TlsFiles::key)),
                Map.entry(DaemonConfig.KEY_PEER_LISTEN, DaemonConfig::peerListen),
                Map.entry(DaemonConfig.KEY_METRICS_LISTEN, DaemonConfig::metricsListen),
                Map.entry(DaemonConfig.KEY_SIM_PREFAULT, DaemonConfig::simPrefault),
                Map.entry(DaemonConfig.KEY_HEALTH_LISTEN, DaemonConfig::healthListen),
                Map.entry(DaemonConfig.KEY_JOURNAL_RETENTION, DaemonConfig::journalRetention),
                Map.entry(PeerLinkConfig.KEY_TLS_CA, c -> c.peerLink().tls().map(TlsFiles::ca)),
                Map.entry(PeerLinkConfig.KEY_TLS_CERT, c -> c.peerLink().tls().map(TlsFiles::cert)),
                Map.entry(PeerLinkConfig.KEY_TLS_KEY, c -> c.peerLink().tls().map(TlsFiles::key)),
                Map.entry(PeerLinkConfig.KEY_INSECURE, c -> c.peerLink().insecure()),
                Map.entry(PeerLinkConfig.KEY_COMPRESSION, c -> c.peerLink().compression()),
                Map.entry("limits", DaemonConfig::limits),
                Map.entry(DaemonConfig.KEY_SAVE_DIRS, DaemonConfig::saveDirs)));
        // the timeouts by their keys, in the order of Timeouts.values()
        for (int i = 0; i < DaemonConfig.TIMEOUT_KEYS.size(); i++) {
            int at = i;
            m.put(DaemonConfig.TIMEOUT_KEYS.get(i), c -> c.timeouts().values().get(at));
        }
        return Map.copyOf(m);
    }

    /**
     * Applies a re-read configuration (SIGHUP) without touching running migrations: the peer list and each
     * peer's permissions are replaced, and the TLS files are read again (new connections use the new
     * material; a migration already connected keeps its connection; unusable files leave the old material
     * in use). Settings that need a restart (name, backend, state directory, listen addresses, sim-prefault,
     * the TLS file names, limits, save-dirs, journal retention, timeouts) keep their running values; each that changed is named in the
     * log and in the returned list.
     *
     * @return the settings that changed but wait for a restart
     */
    public synchronized java.util.List<String> reload(DaemonConfig next) {
        DaemonConfig was = current;
        java.util.List<String> needRestart = new java.util.ArrayList<>();
        RESTART_ONLY.forEach((key, setting) -> {
            if (!setting.apply(next).equals(setting.apply(was))) {
                needRestart.add(key);
            }
        });
        needRestart.sort(null);
        PeerLinkConfig link = new PeerLinkConfig(was.peerLink().tls(), was.peerLink().insecure(), next.peerLink().allowed(),
                was.peerLink().compression());
        connector.setPeers(next.peers(), link.allowed());
        ControlConfig control = new ControlConfig(was.control().listen(), was.control().socketMode(),
                was.control().socketGroup(), was.control().tls(), next.control().access());
        current = new DaemonConfig(was.name(), was.backend(), was.stateDir(), control, was.peerListen(),
                was.metricsListen(), next.peers(), was.simPrefault(), was.healthListen(), link, was.limits(), was.saveDirs(),
                was.journalRetention(), was.timeouts());
        boolean tlsReloaded = reloadTls();
        boolean controlTlsReloaded = reloadControlTls();
        java.util.List<String> unresolved = control.access().unresolved(UnixAccounts.SYSTEM);
        LOG.atInfo().setMessage("event=config_reloaded")
                .addKeyValue("peers", String.join(",", next.peers().keySet()))
                .addKeyValue("control_operators", grantsText(control.access().operators()))
                .addKeyValue("control_readers", grantsText(control.access().readers()))
                .addKeyValue("control_unknown_entries", String.join(",", unresolved))
                .addKeyValue("peer_tls_reloaded", tlsReloaded)
                .addKeyValue("control_tls_reloaded", controlTlsReloaded)
                .addKeyValue("restart_needed_for", String.join(",", needRestart))
                .log();
        return java.util.List.copyOf(needRestart);
    }

    /** The migration engine, for an embedding program that adds its own {@link dev.migrationd.daemon.engine.run.MigrationObserver}. */
    public MigrationEngine engine() {
        return engine;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (started) {
            LOG.atInfo().setMessage("event=daemon_stopping")
                    .addKeyValue("name", config.name()).log();
        }
        if (control != null) {
            control.stopAccepting();
        }
        if (peers != null) {
            close(peers);
            opened.remove(peers);
        }
        if (engine != null) {
            close(engine); // cancels migrations before the commit point, waits for the others
            opened.remove(engine);
        }
        while (!opened.isEmpty()) {
            close(opened.pop());
        }
        if (registry != null) {
            registry.close();
        }
        if (started) {
            LOG.atInfo().setMessage("event=daemon_stopped")
                    .addKeyValue("name", config.name()).log();
        }
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.atWarn().setMessage("event=close_failed")
                    .addKeyValue("component", c.getClass().getSimpleName())
                    .addKeyValue("error", e.toString()).log();
        }
    }
}
