package dev.migrationd.daemon;

import dev.migrationd.daemon.engine.EngineConfig;
import dev.migrationd.daemon.transport.PeerTransport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The daemon's settings. Every setting can come from the config file and from a flag; a flag wins.
 *
 * <h2>Config file format</h2>
 * One {@code key = value} per line; blank lines and lines starting with {@code #} are ignored; a value
 * runs to the end of the line (surrounding spaces trimmed, no quoting). Keys are the flag names without
 * {@code --}:
 * <pre>
 * # /etc/migrationd/migrationd.conf
 * name           = hostA                # this daemon's peer name (default: the host name)
 * backend        = sim                  # sim | xen | kvm
 * state-dir      = /var/lib/migrationd  # journal, history, sim domains
 * control-listen = unix:/run/migrationd/control.sock  # gRPC control API: unix:PATH and/or HOST:PORT, comma-separated
 * control-socket-mode  = 0660           # the socket file's mode and group: who may connect
 * control-socket-group = migrationd
 * control-operators    = @migrationd    # who may act (root and the daemon's user always may): USER, UID, @GROUP,
 * control-readers      = @adm           #   @GID, cert:NAME; who may look; anyone else: nothing
 * control-loopback-role = operator      # plaintext TCP on loopback: operator | read-only | none
 * control-tls-ca   = /etc/migrationd/tls/ca.pem   # mutual TLS for TCP control addresses (required off loopback)
 * control-tls-cert = /etc/migrationd/tls/hostA.pem
 * control-tls-key  = /etc/migrationd/tls/hostA.key
 * peer-listen    = 0.0.0.0:7101         # migrations from peers
 * metrics-listen = 127.0.0.1:9101       # Prometheus scrape endpoint (/metrics)
 * peer.hostB     = 10.0.0.2:7101        # one line per peer: peer.NAME = HOST:PORT
 * peer.hostB.allow = migrate,query      # what hostB may do here: migrate, query, or none (the default)
 * sim-prefault   = false                # sim: prefault the memory of incoming guests (true|false)
 * tls-ca         = /etc/migrationd/tls/ca.pem     # peer link mutual TLS: trusted CAs (PEM)
 * tls-cert       = /etc/migrationd/tls/hostA.pem  # this host's certificate (subjectAltName DNS:hostA)
 * tls-key        = /etc/migrationd/tls/hostA.key  # its key (PKCS#8, or traditional RSA/EC)
 * insecure-peer-link = false            # plaintext peer link instead of TLS (explicit, loud)
 * compression    = auto                 # the stream between daemons: auto (LZ4 behind a cap), lz4, zstd, off
 * save-dirs      = /srv/saves           # save/restore only in these directories (comma-separated)
 * max-incoming-migrations = 4           # and the other limits: see LimitsConfig
 * health-listen  = 10.0.0.1:7102        # optional: grpc.health.v1 only, for probes (kubelet) off loopback
 * journal-retention = 7d                # how long the journal keeps ended migrations (NUMBERh or NUMBERd, >= 1h)
 * handshake-timeout = 60s               # the waits of the hand-over (see {@link Timeouts}); a duration is
 * idle-timeout      = 60s               #   a whole number with a unit: ms, s, m or h
 * in-doubt-retry    = 2s
 * abort-wait        = 10s
 * close-wait        = 30s
 * connect-timeout   = 10s
 * </pre>
 * An unknown key, a repeated key, a bad address or a bad name stops the daemon with one line naming the
 * file, the line and the problem. Comments after a value need a space before the {@code #}. A peer
 * with this daemon's own name is skipped, so one peer list can serve a whole fleet.
 *
 * @param name          this daemon's peer name
 * @param backend       hypervisor backend name
 * @param stateDir      the state directory
 * @param control       the gRPC control API's addresses and roles (see {@link ControlConfig})
 * @param peerListen    peer (migration) address
 * @param metricsListen Prometheus endpoint address
 * @param peers         peer name → address, in configuration order
 * @param simPrefault   sim backend: prefault the whole memory of a domain built for an incoming migration or
 *                      a restore before the first page arrives (refused with another backend)
 * @param peerLink      the peer link's TLS material (or the explicit insecure choice) and each peer's permissions
 * @param limits        resource limits
 * @param saveDirs      directories save and restore may use ({@code save-dirs}; empty: any outside the state directory)
 * @param healthListen  an extra gRPC listener that serves only the health service (grpc.health.v1), for
 *                      probes that cannot reach the control address; empty: none
 * @param journalRetention how long the journal keeps a migration that ended (a destination answers a source
 *                      in doubt from it for that long)
 * @param timeouts      how long the daemon waits for peers and for its own migrations
 */
public record DaemonConfig(String name, String backend, Path stateDir, ControlConfig control,
                           InetSocketAddress peerListen, InetSocketAddress metricsListen,
                           Map<String, InetSocketAddress> peers, boolean simPrefault,
                           Optional<InetSocketAddress> healthListen, PeerLinkConfig peerLink, LimitsConfig limits,
                           List<Path> saveDirs, Duration journalRetention, Timeouts timeouts) {

    public static final String KEY_NAME = "name";
    public static final String KEY_BACKEND = "backend";
    public static final String KEY_STATE_DIR = "state-dir";
    public static final String KEY_CONTROL_LISTEN = "control-listen";
    public static final String KEY_PEER_LISTEN = "peer-listen";
    public static final String KEY_METRICS_LISTEN = "metrics-listen";
    public static final String KEY_SIM_PREFAULT = "sim-prefault";
    public static final String KEY_SAVE_DIRS = "save-dirs";
    public static final String KEY_HEALTH_LISTEN = "health-listen";
    public static final String KEY_JOURNAL_RETENTION = "journal-retention";
    public static final String KEY_HANDSHAKE_TIMEOUT = "handshake-timeout";
    public static final String KEY_IDLE_TIMEOUT = "idle-timeout";
    public static final String KEY_IN_DOUBT_RETRY = "in-doubt-retry";
    public static final String KEY_ABORT_WAIT = "abort-wait";
    public static final String KEY_CLOSE_WAIT = "close-wait";
    public static final String KEY_CONNECT_TIMEOUT = "connect-timeout";
    /** Prefix of peer keys in the file: {@code peer.NAME = HOST:PORT}. */
    public static final String PEER_PREFIX = "peer.";

    /** The timeout keys, in the order of {@link Timeouts}' components. */
    public static final List<String> TIMEOUT_KEYS = List.of(KEY_HANDSHAKE_TIMEOUT, KEY_IDLE_TIMEOUT, KEY_IN_DOUBT_RETRY,
            KEY_ABORT_WAIT, KEY_CLOSE_WAIT, KEY_CONNECT_TIMEOUT);

    public static final List<String> KEYS = java.util.stream.Stream.concat(java.util.stream.Stream.of(KEY_NAME,
            KEY_BACKEND, KEY_STATE_DIR, KEY_CONTROL_LISTEN, KEY_PEER_LISTEN, KEY_METRICS_LISTEN, KEY_SIM_PREFAULT,
            KEY_HEALTH_LISTEN, KEY_JOURNAL_RETENTION), TIMEOUT_KEYS.stream()).toList();
    /** Every key: the ones above, the peer link's, the limits' and save-dirs. */
    public static final List<String> ALL_KEYS = allKeys();

    private static List<String> allKeys() {
        List<String> all = new java.util.ArrayList<>(KEYS);
        all.addAll(ControlConfig.KEYS);
        all.addAll(PeerLinkConfig.KEYS);
        all.addAll(LimitsConfig.KEYS);
        all.add(KEY_SAVE_DIRS);
        return List.copyOf(all);
    }

    public static final String DEFAULT_BACKEND = "sim";
    public static final String DEFAULT_STATE_DIR = "/var/lib/migrationd";
    public static final String DEFAULT_CONTROL_LISTEN = ControlConfig.DEFAULT_LISTEN;
    public static final String DEFAULT_PEER_LISTEN = "127.0.0.1:7101";
    public static final String DEFAULT_METRICS_LISTEN = "127.0.0.1:9101";
    public static final String DEFAULT_JOURNAL_RETENTION = "7d";
    /** Longest journal retention accepted (ten years: longer is a typo). */
    static final Duration MAX_JOURNAL_RETENTION = Duration.ofDays(3650);
    /** Longest config file accepted (it is a handful of lines). */
    public static final long MAX_FILE_BYTES = 1 << 20;
    /** Longest daemon or peer name (as the engine accepts). */
    public static final int MAX_NAME_LENGTH = 128;
    /** Shortest timeout accepted: shorter ones are below the scheduling noise of a loaded host. */
    public static final Duration MIN_TIMEOUT = Duration.ofMillis(10);
    /** Longest timeout accepted. */
    public static final Duration MAX_TIMEOUT = Duration.ofHours(24);

    /**
     * How long the daemon waits. Each is a setting of the same name (flag and config key); the defaults
     * suit production, and a test lab (the fault suite) passes short ones.
     *
     * @param handshake  {@code handshake-timeout}: for Accept/Reject, Received/Failed, Go, Running and a Query's answer
     * @param idle       {@code idle-timeout}: a receiver's wait for the next stream byte
     * @param inDoubtRetry {@code in-doubt-retry}: between reconnect attempts while a migration is in doubt
     * @param abortWait  {@code abort-wait}: a source that stops before the commit point waits this long for the
     *                   destination to confirm that its copy is gone
     * @param closeWait  {@code close-wait}: a stopping daemon waits this long for migrations past the commit point
     * @param connect    {@code connect-timeout}: for an outgoing peer connection to be established
     */
    public record Timeouts(Duration handshake, Duration idle, Duration inDoubtRetry, Duration abortWait,
                           Duration closeWait, Duration connect) {

        public static final Timeouts DEFAULTS = new Timeouts(EngineConfig.DEFAULT_HANDSHAKE_TIMEOUT,
                EngineConfig.DEFAULT_IDLE_TIMEOUT, EngineConfig.DEFAULT_IN_DOUBT_RETRY, EngineConfig.DEFAULT_ABORT_WAIT,
                EngineConfig.DEFAULT_CLOSE_WAIT, PeerTransport.DEFAULT_CONNECT_TIMEOUT);

        public Timeouts {
            for (Duration d : List.of(handshake, idle, inDoubtRetry, abortWait, closeWait, connect)) {
                if (d.compareTo(MIN_TIMEOUT) < 0 || d.compareTo(MAX_TIMEOUT) > 0) {
                    throw new IllegalArgumentException("timeouts must be " + MIN_TIMEOUT.toMillis() + " ms .. "
                            + MAX_TIMEOUT.toHours() + " h, not " + d);
                }
            }
        }

        /** The values in the order of {@link #TIMEOUT_KEYS}. */
        public List<Duration> values() {
            return List.of(handshake, idle, inDoubtRetry, abortWait, closeWait, connect);
        }
    }

    public DaemonConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(control, "control");
        Objects.requireNonNull(peerListen, "peerListen");
        Objects.requireNonNull(metricsListen, "metricsListen");
        peers = Collections.unmodifiableMap(new LinkedHashMap<>(peers));
        Objects.requireNonNull(healthListen, "healthListen");
        Objects.requireNonNull(peerLink, "peerLink");
        Objects.requireNonNull(limits, "limits");
        saveDirs = List.copyOf(saveDirs);
        Objects.requireNonNull(journalRetention, "journalRetention");
        Objects.requireNonNull(timeouts, "timeouts");
    }

    /**
     * Builds the configuration: defaults, then the file (if any), then the flags.
     *
     * @param file  the config file, or null
     * @param flags settings given as flags, by key (null values = not given)
     * @param flagPeers {@code NAME=HOST:PORT} from repeated {@code --peer} flags
     */
    public static DaemonConfig resolve(Path file, Map<String, String> flags, List<String> flagPeers) throws ConfigException {
        return resolve(file, flags, flagPeers, List.of());
    }

    /**
     * As {@link #resolve(Path, Map, List)}, with {@code NAME=migrate,query} from repeated {@code --peer-allow}
     * flags (each replaces the file's {@code peer.NAME.allow}).
     */
    public static DaemonConfig resolve(Path file, Map<String, String> flags, List<String> flagPeers, List<String> flagAllows)
            throws ConfigException {
        Map<String, String> values = new LinkedHashMap<>();
        Map<String, String> peerValues = new LinkedHashMap<>();
        Map<String, String> allowValues = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        if (file != null) {
            readFile(file, values, peerValues, allowValues, where);
        }
        for (String a : flagAllows) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--peer-allow '" + a + "': expected NAME=PERMISSIONS, e.g. hostB=migrate,query");
            }
            String peer = a.substring(0, eq).trim();
            allowValues.put(peer, a.substring(eq + 1).trim());
            where.put(PEER_PREFIX + peer + PeerLinkConfig.ALLOW_SUFFIX, "--peer-allow " + peer);
        }
        for (Map.Entry<String, String> f : flags.entrySet()) {
            if (!ALL_KEYS.contains(f.getKey())) {
                throw new IllegalArgumentException("not a config key: " + f.getKey());
            }
            if (f.getValue() != null) {
                values.put(f.getKey(), f.getValue().trim());
                where.put(f.getKey(), "--" + f.getKey());
            }
        }
        for (String p : flagPeers) {
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--peer '" + p + "': expected NAME=HOST:PORT, e.g. hostB=127.0.0.1:7201");
            }
            String peer = p.substring(0, eq).trim();
            peerValues.put(peer, p.substring(eq + 1).trim());
            where.put(PEER_PREFIX + peer, "--peer " + peer);
        }

        String name = values.containsKey(KEY_NAME) ? values.get(KEY_NAME) : defaultName();
        checkName(where.getOrDefault(KEY_NAME, "default name"), name);
        String backend = values.getOrDefault(KEY_BACKEND, DEFAULT_BACKEND);
        List<String> backends = java.util.ServiceLoader.load(dev.migrationd.hypervisor.HypervisorProvider.class).stream()
                .map(p -> p.get().name()).toList();
        if (!backends.contains(backend)) {
            throw new ConfigException(where.getOrDefault(KEY_BACKEND, "default") + ": unknown backend '" + backend
                    + "' (known: " + String.join(", ", backends) + ")");
        }
        Path stateDir = Path.of(values.getOrDefault(KEY_STATE_DIR, DEFAULT_STATE_DIR));
        ControlConfig control = ControlConfig.parse(values, where);
        InetSocketAddress peer = address(where.getOrDefault(KEY_PEER_LISTEN, "default"), KEY_PEER_LISTEN,
                values.getOrDefault(KEY_PEER_LISTEN, DEFAULT_PEER_LISTEN));
        InetSocketAddress metrics = address(where.getOrDefault(KEY_METRICS_LISTEN, "default"), KEY_METRICS_LISTEN,
                values.getOrDefault(KEY_METRICS_LISTEN, DEFAULT_METRICS_LISTEN));
        Map<String, InetSocketAddress> peers = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : peerValues.entrySet()) {
            String w = where.get(PEER_PREFIX + e.getKey());
            checkName(w, e.getKey());
            if (e.getKey().equals(name)) {
                continue; // a fleet-wide peer list names every host, this one too
            }
            peers.put(e.getKey(), address(w, "peer " + e.getKey(), e.getValue()));
        }
        boolean simPrefault = switch (values.getOrDefault(KEY_SIM_PREFAULT, "false")) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(where.get(KEY_SIM_PREFAULT) + ": must be true or false, not '"
                    + values.get(KEY_SIM_PREFAULT) + "'");
        };
        if (simPrefault && !backend.equals(DEFAULT_BACKEND)) {
            throw new ConfigException(where.get(KEY_SIM_PREFAULT) + ": applies to the sim backend only (backend is " + backend + ")");
        }
        allowValues.remove(name); // the fleet-wide list's line for this host itself
        PeerLinkConfig peerLink = PeerLinkConfig.parse(values, where, allowValues, peers.keySet());
        LimitsConfig limits = LimitsConfig.parse(values, where);
        List<Path> saveDirs = new java.util.ArrayList<>();
        String dirs = values.getOrDefault(KEY_SAVE_DIRS, "").trim();
        if (!dirs.isEmpty()) {
            for (String d : dirs.split(",")) {
                Path p = Path.of(d.trim());
                if (!p.isAbsolute()) {
                    throw new ConfigException(where.get(KEY_SAVE_DIRS) + ": '" + d.trim() + "' must be an absolute directory");
                }
                saveDirs.add(p.normalize());
            }
        }
        Optional<InetSocketAddress> health = values.containsKey(KEY_HEALTH_LISTEN)
                ? Optional.of(address(where.get(KEY_HEALTH_LISTEN), KEY_HEALTH_LISTEN, values.get(KEY_HEALTH_LISTEN)))
                : Optional.empty();
        Duration retention = retention(where.getOrDefault(KEY_JOURNAL_RETENTION, "default"),
                values.getOrDefault(KEY_JOURNAL_RETENTION, DEFAULT_JOURNAL_RETENTION));
        List<Duration> t = new java.util.ArrayList<>();
        for (int i = 0; i < TIMEOUT_KEYS.size(); i++) {
            String key = TIMEOUT_KEYS.get(i);
            t.add(values.containsKey(key) ? duration(where.get(key), key, values.get(key)) : Timeouts.DEFAULTS.values().get(i));
        }
        Timeouts timeouts = new Timeouts(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), t.get(5));
        return new DaemonConfig(name, backend, stateDir, control, peer, metrics, peers, simPrefault, health, peerLink, limits,
                saveDirs, retention, timeouts);
    }

    /** {@code NUMBERh} or {@code NUMBERd}, from one hour to ten years. */
    static Duration retention(String where, String text) throws ConfigException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,7})([hd])").matcher(text);
        Duration d = !m.matches() ? null : m.group(2).equals("h") ? Duration.ofHours(Long.parseLong(m.group(1)))
                : Duration.ofDays(Long.parseLong(m.group(1)));
        if (d == null || d.compareTo(Duration.ofHours(1)) < 0 || d.compareTo(MAX_JOURNAL_RETENTION) > 0) {
            throw new ConfigException(where + ": journal retention '" + text
                    + "' must be NUMBERh or NUMBERd between 1h and " + MAX_JOURNAL_RETENTION.toDays()
                    + "d (a destination answers a source in doubt only for that long)");
        }
        return d;
    }

    /** Parses a duration: a whole number and a unit, {@code ms}, {@code s}, {@code m} or {@code h} (e.g. 500ms, 60s). */
    static Duration duration(String where, String what, String text) throws ConfigException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,9})(ms|s|m|h)").matcher(text);
        if (!m.matches()) {
            throw new ConfigException(where + ": " + what + " '" + text
                    + "': expected a whole number and a unit (ms, s, m or h), e.g. 500ms or 60s");
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
        if (d.compareTo(MIN_TIMEOUT) < 0 || d.compareTo(MAX_TIMEOUT) > 0) {
            throw new ConfigException(where + ": " + what + " '" + text + "': must be between "
                    + MIN_TIMEOUT.toMillis() + "ms and " + MAX_TIMEOUT.toHours() + "h");
        }
        return d;
    }

    /** The backend options this configuration asks for (see HypervisorProvider#open). */
    public Map<String, String> backendOptions() {
        return simPrefault ? Map.of("prefault", "true") : Map.of();
    }

    private static void readFile(Path file, Map<String, String> values, Map<String, String> peers,
                                 Map<String, String> allows, Map<String, String> where) throws ConfigException {
        List<String> lines;
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new ConfigException("config " + file + ": larger than " + MAX_FILE_BYTES + " bytes; is it the right file?");
            }
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config " + file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException("config " + file + ": cannot read: " + e.getMessage());
        }
        for (int i = 0; i < lines.size(); i++) {
            String at = "config " + file + " line " + (i + 1);
            String line = stripComment(lines.get(i)).trim();
            if (line.isEmpty()) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException(at + ": expected 'key = value', got '" + line + "'");
            }
            String key = line.substring(0, eq).trim();
            String value = line.substring(eq + 1).trim();
            if (key.startsWith(PEER_PREFIX) && key.endsWith(PeerLinkConfig.ALLOW_SUFFIX)) {
                String peer = key.substring(PEER_PREFIX.length(), key.length() - PeerLinkConfig.ALLOW_SUFFIX.length());
                if (allows.containsKey(peer)) {
                    throw new ConfigException(at + ": '" + key + "' is given twice");
                }
                allows.put(peer, value);
                where.put(key, at + " (" + key + ")");
            } else if (key.startsWith(PEER_PREFIX)) {
                String peer = key.substring(PEER_PREFIX.length());
                if (peers.containsKey(peer)) {
                    throw new ConfigException(at + ": peer '" + peer + "' is given twice");
                }
                peers.put(peer, value);
                where.put(key, at + " (" + key + ")");
            } else if (ALL_KEYS.contains(key)) {
                if (values.containsKey(key)) {
                    throw new ConfigException(at + ": '" + key + "' is given twice");
                }
                values.put(key, value);
                where.put(key, at + " (" + key + ")");
            } else {
                throw new ConfigException(at + ": unknown key '" + key + "' (known: " + String.join(", ", ALL_KEYS)
                        + ", " + PEER_PREFIX + "NAME, " + PEER_PREFIX + "NAME" + PeerLinkConfig.ALLOW_SUFFIX + ")");
            }
        }
    }

    private static String stripComment(String line) {
        if (line.stripLeading().startsWith("#")) {
            return "";
        }
        int hash = line.indexOf(" #");
        int tab = line.indexOf("\t#");
        int cut = hash < 0 ? tab : tab < 0 ? hash : Math.min(hash, tab);
        return cut < 0 ? line : line.substring(0, cut);
    }

    private static void checkName(String where, String name) throws ConfigException {
        if (name.isEmpty() || name.length() > MAX_NAME_LENGTH || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new ConfigException(where + ": name '" + name + "' must be 1.." + MAX_NAME_LENGTH
                    + " letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    /** Parses {@code HOST:PORT} (IPv6 as {@code [::1]:7100}); port 0 picks a free port. */
    static InetSocketAddress address(String where, String what, String text) throws ConfigException {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new ConfigException(where + ": " + what + " '" + text + "': expected HOST:PORT, e.g. 127.0.0.1:7100");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new ConfigException(where + ": " + what + " '" + text + "': write IPv6 addresses as [ADDR]:PORT");
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new ConfigException(where + ": " + what + " '" + text + "': port must be 0..65535");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new ConfigException(where + ": " + what + " '" + text + "': unknown host '" + host + "'");
        }
    }

    private static String defaultName() {
        try {
            String h = InetAddress.getLocalHost().getHostName();
            int dot = h.indexOf('.');
            return dot > 0 ? h.substring(0, dot) : h;
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
