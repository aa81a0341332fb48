package dev.migrationd.daemon.engine.journal;

import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's migration journal: one append-only text file in the state directory, one line per
 * event, each line forced to disk ({@code fsync}) before {@link #append} returns. The hand-over's
 * commit rules rest on it: the source journals COMMITTING before Go; the destination journals
 * COMMITTED before it unpauses; recovery after a restart reads the last state of every migration.
 *
 * <p>Line format: space-separated {@code key=value} pairs, values percent-encoded (UTF-8), e.g.
 * {@code ts=2026-11-25T22:00:00Z id=… role=source state=COMMITTING domain=vm1 peer=hostB guest=HVM}.
 * A torn last line (crash mid-write) is ignored when read back.
 *
 * <p>The journal also answers what it has made durable: the last state of each migration, read back
 * when it is opened and updated after each forced append ({@link #lastState}).
 *
 * <p>Threading: {@link #append} is safe from any thread (a lock serialises appends); {@link #lastState}
 * too (a concurrent map).
 */
public final class Journal implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);

    /** File name in the state directory. */
    public static final String FILE_NAME = "migrations.journal";
    /** Longest line accepted when reading back (anything longer is corrupt). */
    private static final int MAX_LINE = 8192;

    /** Where a migration is, as journaled. */
    public enum State {
        /** Source: migration registered, before anything is changed. */
        STARTED,
        /** Destination: offer accepted, domain about to be created. */
        ACCEPTED,
        /** Source: about to send Go (the commit point). */
        COMMITTING,
        /** Destination: Go received; the guest is to run here. */
        COMMITTED,
        /** Finished successfully (source: copy destroyed; destination: guest running). */
        DONE,
        /** Finished unsuccessfully before the commit point (guest on the source). */
        FAILED,
        /** Cancelled before the commit point. */
        CANCELLED,
        /** The policy gave up. */
        ABORTED;

        public boolean terminal() {
            return this == DONE || this == FAILED || this == CANCELLED || this == ABORTED;
        }
    }

    public enum Role {
        SOURCE,
        DESTINATION
    }

    /** One journal line. */
    public record Entry(Instant ts, String id, Role role, State state, Map<String, String> fields) {
        public Entry {
            Objects.requireNonNull(ts);
            Objects.requireNonNull(id);
            Objects.requireNonNull(role);
            Objects.requireNonNull(state);
            fields = Map.copyOf(fields);
        }

        public String field(String key) {
            return fields.getOrDefault(key, "");
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final ReentrantLock lock = new ReentrantLock();
    /** What the file held when it was opened, in file order. */
    private final List<Entry> replayed;
    /** The last state of each migration ({@link #key}), as the file holds it. */
    private final Map<String, State> lastStates = new ConcurrentHashMap<>();

    /** Opens (or creates) the journal in {@code stateDir} for appending, reading back what it holds first. */
    public Journal(Path stateDir) throws IOException {
        Files.createDirectories(stateDir);
        this.file = stateDir.resolve(FILE_NAME);
        this.replayed = List.copyOf(read(stateDir));
        for (Entry e : replayed) {
            lastStates.put(key(e.role(), e.id()), e.state());
        }
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        terminateTornLine();
    }

    /** A crash mid-append leaves a line without its newline: end it, so the next entry starts clean. */
    private void terminateTornLine() throws IOException {
        long size = channel.size();
        if (size == 0) {
            return;
        }
        try (FileChannel r = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer last = ByteBuffer.allocate(1);
            r.read(last, size - 1);
            if (last.get(0) != '\n') {
                channel.write(ByteBuffer.wrap(new byte[] {'\n'}));
                channel.force(false);
            }
        }
    }

    /** Every well-formed entry the file held when this journal was opened, in file order (what recovery replays). */
    public List<Entry> replayed() {
        return replayed;
    }

    /** The last state journaled for migration {@code id} in {@code role}, if any. */
    public Optional<State> lastState(Role role, String id) {
        return Optional.ofNullable(lastStates.get(key(role, id)));
    }

    private static String key(Role role, String id) {
        return role + "/" + id;
    }

    /** Appends one line and forces it to disk. */
    public void append(Entry e) throws IOException {
        StringBuilder line = new StringBuilder(128);
        line.append("ts=").append(e.ts()).append(" id=").append(enc(e.id())).append(" role=")
                .append(e.role().name().toLowerCase()).append(" state=").append(e.state());
        for (var f : e.fields().entrySet()) {
            line.append(' ').append(enc(f.getKey())).append('=').append(enc(f.getValue()));
        }
        line.append('\n');
        ByteBuffer bytes = ByteBuffer.wrap(line.toString().getBytes(StandardCharsets.UTF_8));
        lock.lock();
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
            channel.force(false);
            lastStates.put(key(e.role(), e.id()), e.state());
        } finally {
            lock.unlock();
        }
    }

    /** Every well-formed entry, in file order. */
    public static List<Entry> read(Path stateDir) throws IOException {
        Path f = stateDir.resolve(FILE_NAME);
        List<Entry> out = new ArrayList<>();
        if (!Files.exists(f)) {
            return out;
        }
        int lineNo = 0;
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            Entry e = parse(line);
            if (e == null) {
                LOG.warn("event=journal_line_skipped file={} line={} reason=malformed", f, lineNo);
                continue;
            }
            out.add(e);
        }
        return out;
    }

    /** The last entry of each migration id, in order of first appearance. */
    public static Map<String, Entry> lastById(List<Entry> entries) {
        Map<String, Entry> last = new LinkedHashMap<>();
        for (Entry e : entries) {
            last.put(key(e.role(), e.id()), e);
        }
        return last;
    }

    private static Entry parse(String line) {
        if (line.length() > MAX_LINE) {
            return null;
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : line.split(" ")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                return null;
            }
            try {
                kv.put(dec(part.substring(0, eq)), dec(part.substring(eq + 1)));
            } catch (IllegalArgumentException ex) {
                return null;
            }
        }
        try {
            Instant ts = Instant.parse(Objects.requireNonNull(kv.remove("ts")));
            String id = Objects.requireNonNull(kv.remove("id"));
            Role role = Role.valueOf(Objects.requireNonNull(kv.remove("role")).toUpperCase());
            State state = State.valueOf(Objects.requireNonNull(kv.remove("state")));
            return new Entry(ts, id, role, state, kv);
        } catch (RuntimeException ex) {
            return null;
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
