package dev.migrationd.daemon;

import dev.migrationd.daemon.control.ControlAccess;
import dev.migrationd.daemon.control.ControlListeners;
import dev.migrationd.daemon.control.ControlRole;
import dev.migrationd.daemon.tls.TlsFiles;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The control API's listeners and who may do what there.
 *
 * <ul>
 *   <li>{@code control-listen}: comma-separated addresses, each {@code unix:PATH} (the Unix socket) or
 *       {@code HOST:PORT} (TCP). TCP is mutual TLS when {@code control-tls-ca/-cert/-key} are set; without them
 *       a TCP address must be loopback (plaintext elsewhere is refused).</li>
 *   <li>{@code control-socket-mode} (octal, default 0660) and {@code control-socket-group} (default: the daemon's
 *       group): the socket file's permissions, which decide who may connect at all, as with libvirt's socket.</li>
 *   <li>{@code control-operators}, {@code control-readers}: users ({@code NAME}, {@code UID}), groups
 *       ({@code @NAME}, {@code @GID}) and client certificate names ({@code cert:NAME}) with each role; root and
 *       the daemon's own user are operators on the socket; anyone else has no role (deny by default).</li>
 *   <li>{@code control-loopback-role} ({@code operator}, {@code read-only} or {@code none}; default operator):
 *       the role of every caller on plaintext loopback TCP, where anyone on the host can connect.</li>
 * </ul>
 *
 * @param listen      the addresses, in the order given
 * @param socketMode  the Unix socket file's permissions
 * @param socketGroup the group the socket file is given to; empty: the daemon's
 * @param tls         mutual TLS for every TCP address; empty: TCP is plaintext, loopback only
 * @param access      the roles
 */
public record ControlConfig(List<Address> listen, Set<PosixFilePermission> socketMode, Optional<String> socketGroup,
                            Optional<TlsFiles> tls, ControlAccess access) {

    public static final String KEY_SOCKET_MODE = "control-socket-mode";
    public static final String KEY_SOCKET_GROUP = "control-socket-group";
    public static final String KEY_TLS_CA = "control-tls-ca";
    public static final String KEY_TLS_CERT = "control-tls-cert";
    public static final String KEY_TLS_KEY = "control-tls-key";
    public static final String KEY_OPERATORS = ControlAccess.KEY_OPERATORS;
    public static final String KEY_READERS = ControlAccess.KEY_READERS;
    public static final String KEY_LOOPBACK_ROLE = "control-loopback-role";
    /** The keys besides {@code control-listen} (which {@link DaemonConfig} keeps with the other addresses). */
    public static final List<String> KEYS = List.of(KEY_SOCKET_MODE, KEY_SOCKET_GROUP, KEY_TLS_CA, KEY_TLS_CERT, KEY_TLS_KEY,
            KEY_OPERATORS, KEY_READERS, KEY_LOOPBACK_ROLE);
    /** The keys a reload (SIGHUP) applies at once: who has which role. */
    public static final List<String> RELOADABLE_KEYS = List.of(KEY_OPERATORS, KEY_READERS, KEY_LOOPBACK_ROLE);

    /** The Unix socket migrationctl looks for first, and the daemon's default. */
    public static final String DEFAULT_SOCKET = "/run/migrationd/control.sock";
    public static final String DEFAULT_LISTEN = "unix:" + DEFAULT_SOCKET;
    public static final String DEFAULT_SOCKET_MODE = "0660";
    public static final String DEFAULT_LOOPBACK_ROLE = ControlRole.OPERATOR.word();
    /** Prefix of a Unix socket address. */
    public static final String UNIX_PREFIX = "unix:";
    /** Most control addresses. */
    public static final int MAX_ADDRESSES = 8;
    /** The word for "no role" in {@code control-loopback-role}. */
    public static final String ROLE_NONE = "none";

    /** One control address. */
    public sealed interface Address {
        /** The Unix socket at {@code path}. */
        record Unix(Path path) implements Address {
        }

        /** TCP. */
        record Tcp(InetSocketAddress address) implements Address {
        }
    }

    public ControlConfig {
        listen = List.copyOf(listen);
        socketMode = Set.copyOf(socketMode);
    }

    /** The TCP addresses. */
    public List<InetSocketAddress> tcp() {
        return listen.stream().filter(a -> a instanceof Address.Tcp).map(a -> ((Address.Tcp) a).address()).toList();
    }

    /** Reads the settings from {@code values} (flags over the file); {@code where} says where each was given. */
    static ControlConfig parse(Map<String, String> values, Map<String, String> where) throws ConfigException {
        String listenText = values.getOrDefault(DaemonConfig.KEY_CONTROL_LISTEN, DEFAULT_LISTEN);
        String listenWhere = where.getOrDefault(DaemonConfig.KEY_CONTROL_LISTEN, "default");
        List<Address> listen = new ArrayList<>();
        for (String raw : listenText.split(",")) {
            String a = raw.trim();
            Address address;
            if (a.startsWith(UNIX_PREFIX)) {
                String p = a.substring(UNIX_PREFIX.length());
                if (!p.startsWith("/") || p.getBytes(StandardCharsets.UTF_8).length > ControlListeners.MAX_SOCKET_PATH) {
                    throw new ConfigException(listenWhere + ": control-listen '" + a + "': a Unix socket is unix:/ABSOLUTE/PATH"
                            + " of at most " + ControlListeners.MAX_SOCKET_PATH + " bytes");
                }
                address = new Address.Unix(Path.of(p).normalize());
            } else {
                address = new Address.Tcp(DaemonConfig.address(listenWhere, DaemonConfig.KEY_CONTROL_LISTEN, a));
            }
            if (listen.contains(address)) {
                throw new ConfigException(listenWhere + ": control-listen names '" + a + "' twice");
            }
            listen.add(address);
        }
        if (listen.size() > MAX_ADDRESSES) {
            throw new ConfigException(listenWhere + ": control-listen has more than " + MAX_ADDRESSES + " addresses");
        }
        Optional<TlsFiles> tls = PeerLinkConfig.tlsFiles(values, KEY_TLS_CA, KEY_TLS_CERT, KEY_TLS_KEY);
        boolean anyTcp = listen.stream().anyMatch(a -> a instanceof Address.Tcp);
        if (tls.isPresent() && !anyTcp) {
            throw new ConfigException(where.get(KEY_TLS_CA) + ": " + KEY_TLS_CA + "/" + KEY_TLS_CERT + "/" + KEY_TLS_KEY
                    + " are for TCP control addresses, and control-listen has none ('" + listenText + "')");
        }
        if (tls.isEmpty()) {
            for (Address a : listen) {
                if (a instanceof Address.Tcp(InetSocketAddress in) && !in.getAddress().isLoopbackAddress()) {
                    throw new ConfigException(listenWhere + ": control-listen " + in.getAddress().getHostAddress() + ":"
                            + in.getPort() + " is not a loopback address, and plaintext TCP is allowed on loopback only: set "
                            + KEY_TLS_CA + ", " + KEY_TLS_CERT + " and " + KEY_TLS_KEY + " for mutual TLS, or use "
                            + UNIX_PREFIX + "PATH");
                }
            }
        }
        Set<PosixFilePermission> mode = mode(where.getOrDefault(KEY_SOCKET_MODE, "default"),
                values.getOrDefault(KEY_SOCKET_MODE, DEFAULT_SOCKET_MODE));
        Optional<String> group = Optional.ofNullable(values.get(KEY_SOCKET_GROUP)).filter(g -> !g.isBlank());
        if (group.isPresent() && !group.get().matches("[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")) {
            throw new ConfigException(where.get(KEY_SOCKET_GROUP) + ": '" + group.get() + "' is not a group name");
        }
        return new ControlConfig(listen, mode, group, tls, access(values, where));
    }

    /** The roles alone (what a reload applies). */
    static ControlAccess access(Map<String, String> values, Map<String, String> where) throws ConfigException {
        List<ControlAccess.Grant> operators = grants(values, where, KEY_OPERATORS);
        List<ControlAccess.Grant> readers = grants(values, where, KEY_READERS);
        String roleText = values.getOrDefault(KEY_LOOPBACK_ROLE, DEFAULT_LOOPBACK_ROLE).trim();
        Optional<ControlRole> loopback = ControlRole.ofWord(roleText);
        if (loopback.isEmpty() && !roleText.equals(ROLE_NONE)) {
            throw new ConfigException(where.get(KEY_LOOPBACK_ROLE) + ": '" + roleText + "' is not a role (operator, "
                    + "read-only or none)");
        }
        return new ControlAccess(operators, readers, loopback);
    }

    private static List<ControlAccess.Grant> grants(Map<String, String> values, Map<String, String> where, String key)
            throws ConfigException {
        try {
            return ControlAccess.parseGrants(values.getOrDefault(key, ""));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where.get(key) + ": " + e.getMessage());
        }
    }

    /** An octal mode such as {@code 0660} or {@code 660}, at most 0777. */
    static Set<PosixFilePermission> mode(String where, String text) throws ConfigException {
        if (!text.matches("0?[0-7]{3}")) {
            throw new ConfigException(where + ": " + KEY_SOCKET_MODE + " '" + text + "': expected an octal mode such as 0660");
        }
        int bits = Integer.parseInt(text, 8);
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ};
        for (int i = 0; i < order.length; i++) {
            if ((bits & (1 << i)) != 0) {
                out.add(order[i]);
            }
        }
        return out;
    }
}
