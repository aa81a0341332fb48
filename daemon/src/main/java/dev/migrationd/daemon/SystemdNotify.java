package dev.migrationd.daemon;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * The {@code sd_notify} protocol without libsystemd: one datagram per state change ({@code READY=1},
 * {@code RELOADING=1}, {@code STOPPING=1}, {@code STATUS=...}) to the AF_UNIX datagram socket named by
 * {@code $NOTIFY_SOCKET} (a path, or {@code @name} in the abstract namespace). Without the variable (not
 * started by systemd, or not {@code Type=notify}) {@link #fromEnvironment()} is empty and nothing is sent.
 * Calls go through FFM: the JDK's own channels have no AF_UNIX datagram sockets.
 *
 * <p>Thread-safety: each {@link #send} opens, uses and closes its own socket; instances are immutable.
 */
public final class SystemdNotify {

    /** sizeof(struct sockaddr_un) on Linux: a 2-byte family, then 108 bytes of path. */
    static final int SOCKADDR_UN_SIZE = 110;
    static final int SUN_PATH_OFFSET = 2;
    static final int SUN_PATH_MAX = SOCKADDR_UN_SIZE - SUN_PATH_OFFSET;
    /** Longest state message sent (systemd reads up to its pipe buffer; ours are a few words). */
    static final int MAX_MESSAGE_BYTES = 4096;
    private static final short AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int MSG_NOSIGNAL = 0x4000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
    private static final MethodHandle SOCKET = bind("socket",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle SENDTO = bind("sendto",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = bind("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private final String socket;

    SystemdNotify(String socket) {
        if (socket.isEmpty() || socket.getBytes(StandardCharsets.UTF_8).length > SUN_PATH_MAX) {
            throw new IllegalArgumentException("NOTIFY_SOCKET '" + socket + "' must be 1.." + SUN_PATH_MAX + " bytes");
        }
        if (socket.charAt(0) != '/' && socket.charAt(0) != '@') {
            throw new IllegalArgumentException("NOTIFY_SOCKET '" + socket + "' must be an absolute path or @abstract-name");
        }
        this.socket = socket;
    }

    /** The notifier for {@code $NOTIFY_SOCKET}, or empty when systemd did not ask for notifications. */
    public static Optional<SystemdNotify> fromEnvironment() {
        String s = System.getenv("NOTIFY_SOCKET");
        return s == null || s.isEmpty() ? Optional.empty() : Optional.of(new SystemdNotify(s));
    }

    /** The socket this notifier writes to, as given. */
    public String socket() {
        return socket;
    }

    /**
     * Sends one state message, e.g. {@code "READY=1\nSTATUS=listening"}.
     *
     * @throws IOException naming the call and errno when the socket cannot be reached
     */
    public void send(String state) throws IOException {
        byte[] msg = state.getBytes(StandardCharsets.UTF_8);
        if (msg.length == 0 || msg.length > MAX_MESSAGE_BYTES) {
            throw new IllegalArgumentException("state message must be 1.." + MAX_MESSAGE_BYTES + " bytes");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            MemorySegment addr = a.allocate(SOCKADDR_UN_SIZE);
            addr.set(ValueLayout.JAVA_SHORT, 0, AF_UNIX);
            byte[] path = socket.getBytes(StandardCharsets.UTF_8);
            int addrLen;
            if (path[0] == '@') {
                // abstract namespace: a leading NUL, then the name; the length counts exactly those bytes
                MemorySegment.copy(path, 1, addr, ValueLayout.JAVA_BYTE, SUN_PATH_OFFSET + 1, path.length - 1);
                addrLen = SUN_PATH_OFFSET + path.length;
            } else {
                MemorySegment.copy(path, 0, addr, ValueLayout.JAVA_BYTE, SUN_PATH_OFFSET, path.length);
                addrLen = SUN_PATH_OFFSET + path.length + 1; // with the terminating NUL (already zero)
            }
            int fd = (int) SOCKET.invokeExact(st, (int) AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("socket(AF_UNIX, SOCK_DGRAM): errno " + errno(st));
            }
            try {
                MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, msg);
                long sent = (long) SENDTO.invokeExact(st, fd, buf, (long) msg.length, MSG_NOSIGNAL, addr, addrLen);
                if (sent != msg.length) {
                    throw new IOException("sendto(" + socket + "): " + (sent < 0 ? "errno " + errno(st) : "short send " + sent));
                }
            } finally {
                int ignored = (int) CLOSE.invokeExact(st, fd);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("sd_notify downcall failed", t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static MethodHandle bind(String name, FunctionDescriptor fd) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc symbol not found: " + name));
        return LINKER.downcallHandle(symbol, fd, CAPTURE);
    }
}
