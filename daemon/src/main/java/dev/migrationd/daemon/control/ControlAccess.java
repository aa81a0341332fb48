package dev.migrationd.daemon.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Who gets which role on the control API: the {@code control-operators} and {@code control-readers} lists and
 * the role of plaintext loopback TCP ({@code control-loopback-role}). Anyone else has no role and is refused
 * everything but health checks (deny by default). Immutable; a reload (SIGHUP) swaps in a new one.
 *
 * <p>On the Unix socket the caller is the uid (and gid) the kernel reports for the connecting process
 * (SO_PEERCRED), never something the caller says. Root and the daemon's own user are always operators: either
 * can already do anything the daemon can (read its keys, signal it, write its state).
 *
 * @param operators    who gets {@link ControlRole#OPERATOR}
 * @param readers      who gets {@link ControlRole#READ_ONLY}
 * @param loopbackRole the role of every caller on a plaintext loopback TCP listener (anyone on this host, or in
 *                     its network namespace, can connect there); empty: none
 */
public record ControlAccess(List<Grant> operators, List<Grant> readers, Optional<ControlRole> loopbackRole) {

    /** The config key of {@link #operators}. */
    public static final String KEY_OPERATORS = "control-operators";
    /** The config key of {@link #readers}. */
    public static final String KEY_READERS = "control-readers";
    /** Most entries in one list (a longer one is a mistake, not a policy). */
    public static final int MAX_GRANTS = 256;
    /** Longest name in an entry. */
    public static final int MAX_NAME = 253;

    public ControlAccess {
        operators = List.copyOf(operators);
        readers = List.copyOf(readers);
    }

    /** No one but root and the daemon's user on the socket; plaintext loopback TCP as {@code loopbackRole}. */
    public static ControlAccess onlyRoot(Optional<ControlRole> loopbackRole) {
        return new ControlAccess(List.of(), List.of(), loopbackRole);
    }

    /**
     * One entry of a list: a Unix user ({@code alice} or {@code 1000}), a Unix group's members ({@code @migrationd}
     * or {@code @995}), or a TLS client certificate's name ({@code cert:ops.example.com}).
     */
    public sealed interface Grant {
        /** A Unix user, by name or uid. */
        record User(String name) implements Grant {
        }

        /** The members of a Unix group (primary or supplementary), by name or gid. */
        record Group(String name) implements Grant {
        }

        /** A client certificate that names {@code name} (a subjectAltName DNS entry, else its subject CN). */
        record Certificate(String name) implements Grant {
        }

        /** The entry as the configuration writes it. */
        default String text() {
            return switch (this) {
                case User u -> u.name();
                case Group g -> "@" + g.name();
                case Certificate c -> CERT_PREFIX + c.name();
            };
        }
    }

    /** Prefix of a certificate entry. */
    public static final String CERT_PREFIX = "cert:";

    /**
     * A comma-separated list ({@code root,@migrationd,cert:ops}); empty text is an empty list.
     *
     * @throws IllegalArgumentException naming the bad entry
     */
    public static List<Grant> parseGrants(String text) {
        List<Grant> out = new ArrayList<>();
        if (text.isBlank()) {
            return out;
        }
        for (String raw : text.split(",")) {
            String w = raw.trim();
            Grant g;
            String name;
            if (w.startsWith("@")) {
                name = w.substring(1);
                g = new Grant.Group(name);
            } else if (w.startsWith(CERT_PREFIX)) {
                name = w.substring(CERT_PREFIX.length());
                g = new Grant.Certificate(name);
            } else {
                name = w;
                g = new Grant.User(name);
            }
            if (name.isEmpty() || name.length() > MAX_NAME || !name.matches("[A-Za-z0-9_][A-Za-z0-9._$-]*")) {
                throw new IllegalArgumentException("'" + w + "' is not a user (NAME or UID), a group (@NAME or @GID) "
                        + "or a certificate name (" + CERT_PREFIX + "NAME)");
            }
            out.add(g);
            if (out.size() > MAX_GRANTS) {
                throw new IllegalArgumentException("more than " + MAX_GRANTS + " entries");
            }
        }
        return out;
    }

    /** A caller as the control API sees it: who (for logs and refusals) and its role, if any. */
    public record Caller(String who, Optional<ControlRole> role, String why) {
    }

    /**
     * The caller connected on the Unix socket as {@code uid}/{@code gid} (SO_PEERCRED).
     *
     * @param selfUid the daemon's own uid
     */
    public Caller unixCaller(int uid, int gid, int selfUid, UnixAccounts accounts) {
        Optional<UnixAccounts.User> user = accounts.user(uid);
        String who = "uid " + uid + user.map(u -> " (" + u.name() + ")").orElse("");
        if (uid == 0) {
            return new Caller(who, Optional.of(ControlRole.OPERATOR), "root");
        }
        if (uid == selfUid) {
            return new Caller(who, Optional.of(ControlRole.OPERATOR), "the daemon's own user");
        }
        Set<Integer> groups = user.map(u -> (Set<Integer>) new java.util.HashSet<>(accounts.groups(u)))
                .orElseGet(java.util.HashSet::new);
        groups.add(gid);
        if (matchesUnix(operators, uid, user, groups, accounts)) {
            return new Caller(who, Optional.of(ControlRole.OPERATOR), KEY_OPERATORS);
        }
        if (matchesUnix(readers, uid, user, groups, accounts)) {
            return new Caller(who, Optional.of(ControlRole.READ_ONLY), KEY_READERS);
        }
        return new Caller(who, Optional.empty(), "not in " + KEY_OPERATORS + " or " + KEY_READERS);
    }

    private static boolean matchesUnix(List<Grant> grants, int uid, Optional<UnixAccounts.User> user, Set<Integer> groups,
                                       UnixAccounts accounts) {
        for (Grant g : grants) {
            switch (g) {
                case Grant.User u -> {
                    if (isNumber(u.name()) ? Long.parseLong(u.name()) == Integer.toUnsignedLong(uid)
                            : user.isPresent() && user.get().name().equals(u.name())) {
                        return true;
                    }
                }
                case Grant.Group gr -> {
                    OptionalInt gid = isNumber(gr.name()) ? OptionalInt.of((int) Long.parseLong(gr.name())) : accounts.gid(gr.name());
                    if (gid.isPresent() && groups.contains(gid.getAsInt())) {
                        return true;
                    }
                }
                case Grant.Certificate c -> {
                }
            }
        }
        return false;
    }

    /** The caller whose verified client certificate names {@code names}. */
    public Caller certificateCaller(List<String> names) {
        String who = "certificate " + (names.isEmpty() ? "(no names)" : String.join(",", names));
        if (matchesCertificate(operators, names)) {
            return new Caller(who, Optional.of(ControlRole.OPERATOR), KEY_OPERATORS);
        }
        if (matchesCertificate(readers, names)) {
            return new Caller(who, Optional.of(ControlRole.READ_ONLY), KEY_READERS);
        }
        return new Caller(who, Optional.empty(), "not in " + KEY_OPERATORS + " or " + KEY_READERS + " as " + CERT_PREFIX + "NAME");
    }

    private static boolean matchesCertificate(List<Grant> grants, List<String> names) {
        return grants.stream().anyMatch(g -> g instanceof Grant.Certificate c && names.contains(c.name()));
    }

    /** A caller on a plaintext loopback TCP listener. */
    public Caller loopbackCaller() {
        return new Caller("plaintext loopback TCP", loopbackRole, "control-loopback-role");
    }

    /** The entries that name a user or group this host does not know (they match no one; worth a warning). */
    public List<String> unresolved(UnixAccounts accounts) {
        List<String> out = new ArrayList<>();
        for (Grant g : concat()) {
            boolean known = switch (g) {
                case Grant.User u -> isNumber(u.name()) || accounts.uid(u.name()).isPresent();
                case Grant.Group gr -> isNumber(gr.name()) || accounts.gid(gr.name()).isPresent();
                case Grant.Certificate c -> true;
            };
            if (!known) {
                out.add(g.text());
            }
        }
        return out;
    }

    private List<Grant> concat() {
        List<Grant> all = new ArrayList<>(operators);
        all.addAll(readers);
        return all;
    }

    private static boolean isNumber(String s) {
        return s.length() <= 10 && s.chars().allMatch(ch -> ch >= '0' && ch <= '9') && Long.parseLong(s) <= 0xFFFF_FFFEL;
    }
}
