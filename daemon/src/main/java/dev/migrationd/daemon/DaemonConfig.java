package dev.migrationd.daemon;

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
 * control-listen = 127.0.0.1:7100       # gRPC control API
 * peer-listen    = 0.0.0.0:7101         # migrations from peers
 * metrics-listen = 127.0.0.1:9101       # Prometheus scrape endpoint (/metrics)
 * peer.hostB     = 10.0.0.2:7101        # one line per peer: peer.NAME = HOST:PORT
 * sim-prefault   = false                # sim: prefault the memory of incoming guests (true|false)
 * health-listen  = 10.0.0.1:7102        # optional: grpc.health.v1 only, for probes (kubelet) off loopback
 * journal-retention = 7d                # how long the journal keeps ended migrations (NUMBERh or NUMBERd, >= 1h)
 * </pre>
 * An unknown key, a repeated key, a bad address or a bad name stops the daemon with one line naming the
 * file, the line and the problem. Comments after a value need a space before the {@code #}. A peer
 * with this daemon's own name is skipped, so one peer list can serve a whole fleet.
 *
 * @param name          this daemon's peer name
 * @param backend       hypervisor backend name
 * @param stateDir      the state directory
 * @param controlListen gRPC control API address
 * @param peerListen    peer (migration) address
 * @param metricsListen Prometheus endpoint address
 * @param peers         peer name → address, in configuration order
 * @param simPrefault   sim backend: prefault the whole memory of a domain built for an incoming migration or
 *                      a restore before the first page arrives (refused with another backend)
 * @param healthListen  an extra gRPC listener that serves only the health service (grpc.health.v1), for
 *                      probes that cannot reach the control address; empty: none
 * @param journalRetention how long the journal keeps a migration that ended (a destination answers a source
 *                      in doubt from it for that long)
 */
public record DaemonConfig(String name, String backend, Path stateDir, InetSocketAddress controlListen,
                           InetSocketAddress peerListen, InetSocketAddress metricsListen,
                           Map<String, InetSocketAddress> peers, boolean simPrefault,
                           Optional<InetSocketAddress> healthListen, Duration journalRetention) {

    public static final String KEY_NAME = "name";
    public static final String KEY_BACKEND = "backend";
    public static final String KEY_STATE_DIR = "state-dir";
    public static final String KEY_CONTROL_LISTEN = "control-listen";
    public static final String KEY_PEER_LISTEN = "peer-listen";
    public static final String KEY_METRICS_LISTEN = "metrics-listen";
    public static final String KEY_SIM_PREFAULT = "sim-prefault";
    public static final String KEY_HEALTH_LISTEN = "health-listen";
    public static final String KEY_JOURNAL_RETENTION = "journal-retention";
    /** Prefix of peer keys in the file: {@code peer.NAME = HOST:PORT}. */
    public static final String PEER_PREFIX = "peer.";

    public static final List<String> KEYS = List.of(KEY_NAME, KEY_BACKEND, KEY_STATE_DIR, KEY_CONTROL_LISTEN,
            KEY_PEER_LISTEN, KEY_METRICS_LISTEN, KEY_SIM_PREFAULT, KEY_HEALTH_LISTEN, KEY_JOURNAL_RETENTION);

    public static final String DEFAULT_BACKEND = "sim";
    public static final String DEFAULT_STATE_DIR = "/var/lib/migrationd";
    public static final String DEFAULT_CONTROL_LISTEN = "127.0.0.1:7100";
    public static final String DEFAULT_PEER_LISTEN = "127.0.0.1:7101";
    public static final String DEFAULT_METRICS_LISTEN = "127.0.0.1:9101";
    public static final String DEFAULT_JOURNAL_RETENTION = "7d";
    /** Longest journal retention accepted (ten years: longer is a typo). */
    static final Duration MAX_JOURNAL_RETENTION = Duration.ofDays(3650);
    /** Longest config file accepted (it is a handful of lines). */
    public static final long MAX_FILE_BYTES = 1 << 20;
    /** Longest daemon or peer name (as the engine accepts). */
    public static final int MAX_NAME_LENGTH = 128;

    public DaemonConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(controlListen, "controlListen");
        Objects.requireNonNull(peerListen, "peerListen");
        Objects.requireNonNull(metricsListen, "metricsListen");
        peers = Collections.unmodifiableMap(new LinkedHashMap<>(peers));
        Objects.requireNonNull(healthListen, "healthListen");
        Objects.requireNonNull(journalRetention, "journalRetention");
    }

    /** A configuration without a health-only listener, with the default journal retention. */
    public DaemonConfig(String name, String backend, Path stateDir, InetSocketAddress controlListen,
                        InetSocketAddress peerListen, InetSocketAddress metricsListen,
                        Map<String, InetSocketAddress> peers, boolean simPrefault) {
        this(name, backend, stateDir, controlListen, peerListen, metricsListen, peers, simPrefault, Optional.empty(),
                dev.migrationd.daemon.engine.EngineConfig.DEFAULT_JOURNAL_RETENTION);
    }

    /**
     * Builds the configuration: defaults, then the file (if any), then the flags.
     *
     * @param file  the config file, or null
     * @param flags settings given as flags, by key (null values = not given)
     * @param flagPeers {@code NAME=HOST:PORT} from repeated {@code --peer} flags
     */
    public static DaemonConfig resolve(Path file, Map<String, String> flags, List<String> flagPeers) throws ConfigException {
        Map<String, String> values = new LinkedHashMap<>();
        Map<String, String> peerValues = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        if (file != null) {
            readFile(file, values, peerValues, where);
        }
        for (Map.Entry<String, String> f : flags.entrySet()) {
            if (!KEYS.contains(f.getKey())) {
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
        InetSocketAddress control = address(where.getOrDefault(KEY_CONTROL_LISTEN, "default"), KEY_CONTROL_LISTEN,
                values.getOrDefault(KEY_CONTROL_LISTEN, DEFAULT_CONTROL_LISTEN));
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
        Optional<InetSocketAddress> health = values.containsKey(KEY_HEALTH_LISTEN)
                ? Optional.of(address(where.get(KEY_HEALTH_LISTEN), KEY_HEALTH_LISTEN, values.get(KEY_HEALTH_LISTEN)))
                : Optional.empty();
        Duration retention = retention(where.getOrDefault(KEY_JOURNAL_RETENTION, "default"),
                values.getOrDefault(KEY_JOURNAL_RETENTION, DEFAULT_JOURNAL_RETENTION));
        return new DaemonConfig(name, backend, stateDir, control, peer, metrics, peers, simPrefault, health, retention);
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

    /** The backend options this configuration asks for (see HypervisorProvider#open). */
    public Map<String, String> backendOptions() {
        return simPrefault ? Map.of("prefault", "true") : Map.of();
    }

    private static void readFile(Path file, Map<String, String> values, Map<String, String> peers,
                                 Map<String, String> where) throws ConfigException {
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
            if (key.startsWith(PEER_PREFIX)) {
                String peer = key.substring(PEER_PREFIX.length());
                if (peers.containsKey(peer)) {
                    throw new ConfigException(at + ": peer '" + peer + "' is given twice");
                }
                peers.put(peer, value);
                where.put(key, at + " (" + key + ")");
            } else if (KEYS.contains(key)) {
                if (values.containsKey(key)) {
                    throw new ConfigException(at + ": '" + key + "' is given twice");
                }
                values.put(key, value);
                where.put(key, at + " (" + key + ")");
            } else {
                throw new ConfigException(at + ": unknown key '" + key + "' (known: " + String.join(", ", KEYS)
                        + ", " + PEER_PREFIX + "NAME)");
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
