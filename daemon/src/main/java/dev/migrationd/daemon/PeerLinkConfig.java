package dev.migrationd.daemon;

import dev.migrationd.daemon.engine.peer.PeerPermission;
import dev.migrationd.daemon.tls.TlsFiles;
import dev.migrationd.daemon.transport.CompressionMode;
import dev.migrationd.daemon.transport.PeerLinkSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The peer link's security settings: mutual TLS material ({@code tls-ca}, {@code tls-cert}, {@code tls-key}:
 * all three, or none with {@code insecure-peer-link = true}) and what each peer may do here
 * ({@code peer.NAME.allow = migrate,query}; deny by default).
 *
 * @param tls      the PEM files; empty only when {@code insecure}
 * @param insecure plaintext peer link, by explicit choice
 * @param allowed  peer name → what it may do here (a configured peer missing from it may do nothing)
 * @param compression {@code compression = auto|lz4|zstd|off}: the stream's compression between daemons
 */
public record PeerLinkConfig(Optional<TlsFiles> tls, boolean insecure, Map<String, Set<PeerPermission>> allowed,
                             CompressionMode compression) {

    public static final String KEY_TLS_CA = "tls-ca";
    public static final String KEY_TLS_CERT = "tls-cert";
    public static final String KEY_TLS_KEY = "tls-key";
    public static final String KEY_INSECURE = "insecure-peer-link";
    public static final String KEY_COMPRESSION = "compression";
    /** Suffix of a peer's permission key in the file: {@code peer.NAME.allow = migrate,query}. */
    public static final String ALLOW_SUFFIX = ".allow";
    /** The permission list that grants nothing (the default, written out). */
    public static final String ALLOW_NONE = "none";

    public static final List<String> KEYS = List.of(KEY_TLS_CA, KEY_TLS_CERT, KEY_TLS_KEY, KEY_INSECURE, KEY_COMPRESSION);

    /** Settings with the default compression. */
    public PeerLinkConfig(Optional<TlsFiles> tls, boolean insecure, Map<String, Set<PeerPermission>> allowed) {
        this(tls, insecure, allowed, PeerLinkSettings.DEFAULT_COMPRESSION);
    }

    public PeerLinkConfig {
        java.util.Objects.requireNonNull(compression, "compression");
        Map<String, Set<PeerPermission>> copy = new LinkedHashMap<>();
        allowed.forEach((k, v) -> copy.put(k, Set.copyOf(v)));
        allowed = Collections.unmodifiableMap(copy);
        if (tls.isPresent() == insecure) {
            throw new IllegalArgumentException("exactly one of TLS material and insecure must be given");
        }
    }

    /**
     * Reads the settings.
     *
     * @param values  key → value (flags over the file)
     * @param where   key → where it was given, for messages
     * @param allows  peer name → permission list text
     * @param peers   the configured peer names (an allow line for another name is an error)
     */
    static PeerLinkConfig parse(Map<String, String> values, Map<String, String> where, Map<String, String> allows,
                                Set<String> peers) throws ConfigException {
        boolean insecure = switch (values.getOrDefault(KEY_INSECURE, "false")) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(where.get(KEY_INSECURE) + ": must be true or false, not '"
                    + values.get(KEY_INSECURE) + "'");
        };
        Optional<TlsFiles> tls = tlsFiles(values, KEY_TLS_CA, KEY_TLS_CERT, KEY_TLS_KEY);
        if (tls.isEmpty() && !insecure) {
            throw new ConfigException("the peer link needs mutual TLS: set " + KEY_TLS_CA + ", " + KEY_TLS_CERT + " and "
                    + KEY_TLS_KEY + " (PEM files; 'migrationctl certs' makes a lab CA and host certificates), or give --"
                    + KEY_INSECURE + " to run it in plaintext, where anyone who can reach peer-listen can send migrations");
        }
        if (tls.isPresent() && insecure) {
            throw new ConfigException(where.get(KEY_INSECURE) + ": " + KEY_INSECURE + " contradicts " + KEY_TLS_CA + "/"
                    + KEY_TLS_CERT + "/" + KEY_TLS_KEY + "; give one or the other");
        }
        Map<String, Set<PeerPermission>> allowed = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : allows.entrySet()) {
            String w = where.get(DaemonConfig.PEER_PREFIX + e.getKey() + ALLOW_SUFFIX);
            if (!peers.contains(e.getKey())) {
                throw new ConfigException(w + ": no peer named '" + e.getKey() + "' is configured (add "
                        + DaemonConfig.PEER_PREFIX + e.getKey() + " = HOST:PORT)");
            }
            allowed.put(e.getKey(), permissions(w, e.getValue()));
        }
        return new PeerLinkConfig(tls, insecure, allowed, compression(values, where));
    }

    private static CompressionMode compression(Map<String, String> values, Map<String, String> where) throws ConfigException {
        String text = values.get(KEY_COMPRESSION);
        if (text == null || text.isEmpty()) {
            return PeerLinkSettings.DEFAULT_COMPRESSION;
        }
        CompressionMode mode = CompressionMode.parse(text);
        if (mode == null) {
            throw new ConfigException(where.get(KEY_COMPRESSION) + ": must be auto, lz4, zstd or off, not '" + text + "'");
        }
        String problem = mode.problem();
        if (problem != null) {
            throw new ConfigException(where.get(KEY_COMPRESSION) + ": " + problem);
        }
        return mode;
    }

    /**
     * The three TLS files named by {@code caKey}, {@code certKey} and {@code keyKey}: all three, or none (empty).
     *
     * @throws ConfigException when only some are given, naming the missing ones
     */
    static Optional<TlsFiles> tlsFiles(Map<String, String> values, String caKey, String certKey, String keyKey)
            throws ConfigException {
        List<String> given = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String k : List.of(caKey, certKey, keyKey)) {
            String v = values.get(k);
            if (v != null && !v.isEmpty()) {
                given.add(k);
            } else {
                missing.add(k);
            }
        }
        if (given.isEmpty()) {
            return Optional.empty();
        }
        if (!missing.isEmpty()) {
            throw new ConfigException("TLS settings are incomplete: " + String.join(" and ", missing) + (missing.size() == 1
                    ? " is" : " are") + " missing (" + String.join(" and ", given) + (given.size() == 1 ? " is" : " are")
                    + " set); give all three of " + caKey + ", " + certKey + ", " + keyKey);
        }
        return Optional.of(new TlsFiles(Path.of(values.get(caKey)), Path.of(values.get(certKey)), Path.of(values.get(keyKey))));
    }

    /** {@code migrate,query}, {@code migrate}, {@code query} or {@code none}. */
    static Set<PeerPermission> permissions(String where, String text) throws ConfigException {
        Set<PeerPermission> out = EnumSet.noneOf(PeerPermission.class);
        String t = text.trim();
        if (t.equals(ALLOW_NONE)) {
            return out;
        }
        for (String word : t.split(",")) {
            String w = word.trim();
            Optional<PeerPermission> p = PeerPermission.ofWord(w);
            if (p.isEmpty()) {
                throw new ConfigException(where + ": '" + w + "' is not a permission (migrate, query, or none alone)");
            }
            out.add(p.get());
        }
        return out;
    }
}
