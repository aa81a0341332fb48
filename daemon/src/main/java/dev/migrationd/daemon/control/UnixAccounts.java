package dev.migrationd.daemon.control;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * Users and groups as this host knows them, through the C library (so NSS sources such as LDAP or sssd count,
 * as they do for {@code id}): a uid's name, a user's groups, a name's uid or gid. Used to decide the role of a
 * caller on the control socket from the uid the kernel reports for it (SO_PEERCRED).
 *
 * <p>Stateless; the native calls are reentrant ({@code _r} variants), so it is safe from any thread.
 */
public interface UnixAccounts {

    /** A user's name and primary group, by uid. */
    record User(int uid, String name, int gid) {
    }

    /** The user with this uid, if the host knows one. */
    Optional<User> user(int uid);

    /** The uid of the user called {@code name}, if any. */
    OptionalInt uid(String name);

    /** The gid of the group called {@code name}, if any. */
    OptionalInt gid(String name);

    /** Every group {@code user} belongs to: its primary group and the groups that list it as a member. */
    Set<Integer> groups(User user);

    /** The host's accounts, through libc ({@code getpwuid_r}, {@code getpwnam_r}, {@code getgrnam_r}, {@code getgrouplist}). */
    UnixAccounts SYSTEM = new Libc();

    /** The libc binding (x86-64 and aarch64 Linux glibc layouts of {@code struct passwd} and {@code struct group}). */
    final class Libc implements UnixAccounts {
        /** First buffer for the strings of one entry; doubled on ERANGE up to {@link #MAX_BUFFER}. */
        static final int FIRST_BUFFER = 16 * 1024;
        /** Largest buffer tried: an entry needing more is treated as unknown. */
        static final int MAX_BUFFER = 1 << 20;
        /** Most groups read for one user (the kernel's NGROUPS_MAX). */
        static final int MAX_GROUPS = 65536;
        private static final int ERANGE = 34;
        /** struct passwd: pw_name, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, pw_shell. */
        private static final long PASSWD_SIZE = 48;
        private static final long PW_UID = 16;
        private static final long PW_GID = 20;
        /** struct group: gr_name, gr_passwd, gr_gid, gr_mem. */
        private static final long GROUP_SIZE = 32;
        private static final long GR_GID = 16;
        /** Longest user or group name read back from libc. */
        private static final long MAX_NAME = 1024;

        private static final Linker LINKER = Linker.nativeLinker();
        private static final FunctionDescriptor ENTRY_R = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS);
        private static final MethodHandle GETPWUID_R = bind("getpwuid_r", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
        private static final MethodHandle GETPWNAM_R = bind("getpwnam_r", ENTRY_R);
        private static final MethodHandle GETGRNAM_R = bind("getgrnam_r", ENTRY_R);
        private static final MethodHandle GETGROUPLIST = bind("getgrouplist", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

        private static MethodHandle bind(String name, FunctionDescriptor fd) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(
                    () -> new IllegalStateException("libc has no " + name)), fd);
        }

        private Libc() {
        }

        /** One reentrant lookup: fills {@code entry} using {@code buf}; returns the result pointer's target or NULL. */
        @FunctionalInterface
        private interface Lookup {
            int call(MemorySegment entry, MemorySegment buf, long len, MemorySegment result) throws Throwable;
        }

        /** Runs a lookup with growing buffers; empty when there is no such entry (or it is too large to read). */
        private static Optional<MemorySegment> lookup(Arena arena, long entrySize, Lookup lookup) {
            MemorySegment entry = arena.allocate(entrySize, 8);
            MemorySegment result = arena.allocate(ValueLayout.ADDRESS);
            for (int size = FIRST_BUFFER; size <= MAX_BUFFER; size *= 2) {
                MemorySegment buf = arena.allocate(size);
                int rc;
                try {
                    rc = lookup.call(entry, buf, size, result);
                } catch (Throwable t) {
                    throw new IllegalStateException("account lookup failed", t);
                }
                if (rc == ERANGE) {
                    continue;
                }
                if (rc != 0 || result.get(ValueLayout.ADDRESS, 0).equals(MemorySegment.NULL)) {
                    return Optional.empty();
                }
                return Optional.of(entry);
            }
            return Optional.empty();
        }

        private static String string(MemorySegment pointer) {
            return pointer.reinterpret(MAX_NAME).getString(0);
        }

        @Override
        public Optional<User> user(int uid) {
            try (Arena arena = Arena.ofConfined()) {
                return lookup(arena, PASSWD_SIZE, (e, b, n, r) -> (int) GETPWUID_R.invokeExact(uid, e, b, n, r))
                        .map(e -> new User(e.get(ValueLayout.JAVA_INT, PW_UID), string(e.get(ValueLayout.ADDRESS, 0)),
                                e.get(ValueLayout.JAVA_INT, PW_GID)));
            }
        }

        @Override
        public OptionalInt uid(String name) {
            return idByName(GETPWNAM_R, PASSWD_SIZE, PW_UID, name);
        }

        @Override
        public OptionalInt gid(String name) {
            return idByName(GETGRNAM_R, GROUP_SIZE, GR_GID, name);
        }

        /** The id at {@code offset} of the entry {@code getXXnam_r} finds for {@code name}. */
        private static OptionalInt idByName(MethodHandle byName, long entrySize, long offset, String name) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment n = arena.allocateFrom(name);
                return lookup(arena, entrySize, (e, b, len, r) -> (int) byName.invokeExact(n, e, b, len, r))
                        .map(e -> OptionalInt.of(e.get(ValueLayout.JAVA_INT, offset))).orElse(OptionalInt.empty());
            }
        }

        @Override
        public Set<Integer> groups(User user) {
            Set<Integer> out = new TreeSet<>();
            out.add(user.gid());
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment name = arena.allocateFrom(user.name());
                MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
                int capacity = 64;
                while (true) {
                    MemorySegment groups = arena.allocate(ValueLayout.JAVA_INT, capacity);
                    count.set(ValueLayout.JAVA_INT, 0, capacity);
                    int rc = (int) GETGROUPLIST.invokeExact(name, user.gid(), groups, count);
                    int n = count.get(ValueLayout.JAVA_INT, 0);
                    if (rc >= 0) {
                        for (int i = 0; i < Math.min(n, capacity); i++) {
                            out.add(groups.getAtIndex(ValueLayout.JAVA_INT, i));
                        }
                        return Set.copyOf(out);
                    }
                    if (n <= capacity || n > MAX_GROUPS) {
                        return Set.copyOf(out); // libc gave no usable count: the primary group only
                    }
                    capacity = n;
                }
            } catch (Throwable t) {
                throw new IllegalStateException("getgrouplist(" + user.name() + ") failed", t);
            }
        }
    }
}
