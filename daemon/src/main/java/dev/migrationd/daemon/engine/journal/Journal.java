package dev.migrationd.daemon.engine.journal;

import dev.migrationd.daemon.engine.fault.FailpointNames;
import dev.migrationd.daemon.engine.fault.Failpoints;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's migration journal, a write-ahead log: one file in the state directory, one checksummed record
 * per event ({@link JournalFormat}), each forced to disk before {@link #append} returns. The hand-over's
 * commit rules rest on it: the source journals COMMITTING before Go; the destination journals COMMITTED
 * before it unpauses; recovery after a restart acts on what it holds; an in-doubt answer comes only from
 * what it has made durable ({@link #lastState}).
 *
 * <p><b>Opening</b> reads the longest valid prefix and cuts the rest: a torn tail (a crash in the middle of
 * an append) with one warning, damage with an error and a copy of the cut bytes beside the journal. A journal
 * of the previous text format is rewritten in this one first; a file whose header is not a journal's is set
 * aside and a new journal begun. Only a journal of a newer format stops the daemon (nothing is changed). The
 * file is never read whole: each migration is kept as its first and last entries ({@link Migration}).
 *
 * <p><b>A failed append</b> (a short write, ENOSPC, EIO, a failed fsync) leaves the journal unusable: every
 * later append fails at once, so nothing is ever written after a fragment, until {@link #repair} cuts the file
 * back to the end of the last record known durable and forces that. After a failed fsync nobody knows whether
 * the record reached the disk; once repaired, it certainly has not.
 *
 * <p><b>Compaction</b> ({@link #compact}) drops the migrations that ended more than the retention ago and
 * keeps everything else, in order. It writes a new file, forces it, renames it over the journal and forces
 * the directory, so a crash at any point leaves the old journal or the new one. It runs when the journal is
 * opened and, on a virtual thread, whenever the file has grown past the threshold.
 *
 * <p>Threading: {@link #append}, {@link #repair} and the final steps of a compaction hold one lock (the write
 * channel, the end offset and the failure are guarded by it); one compaction runs at a time (a second waits
 * for the first: both would write the same {@code .new} file); {@link #lastState} and the other getters read
 * a concurrent map and may be called from any thread.
 */
public final class Journal implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);

    /** File name in the state directory. */
    public static final String FILE_NAME = "migrations.journal";
    /** A new journal (creation, upgrade, compaction) before it is renamed into place. */
    static final String NEW_SUFFIX = ".new";
    /** The previous text journal, kept after the upgrade. */
    static final String TEXT_BACKUP_SUFFIX = ".v1-text";
    /** Bytes cut from a damaged journal: {@code migrations.journal.damaged-<epoch millis>}. */
    static final String DAMAGED_SUFFIX = ".damaged-";
    /** A file that is not a journal, set aside: {@code migrations.journal.not-a-journal-<epoch millis>}. */
    static final String SET_ASIDE_SUFFIX = ".not-a-journal-";
    /** How long an ended migration is kept: as long as a peer may still ask about it. */
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    /** Size past which a compaction runs (then again at twice the size it left). */
    public static final long COMPACT_THRESHOLD_BYTES = 8L << 20;

    /** Where a migration is, as journaled. */
    public enum State {
        /** Source: migration registered, before anything is changed. */
        STARTED,
        /** Source: the guest was running and the engine is about to pause it (written before the pause). */
        PAUSING,
        /** Destination: offer accepted, domain about to be created. */
        ACCEPTED,
        /** Source: about to send Go (the commit point). */
        COMMITTING,
        /** Destination: Go received; the guest is to run here. */
        COMMITTED,
        /** Finished successfully (source: copy destroyed; destination: guest running). */
        DONE,
        /** Finished before the commit point (source: guest running here; destination: copy destroyed). */
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

    /** One journal record. */
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

    /**
     * What the journal keeps of one migration: its first entry (the start's fields: domain, peer, UUID…), its
     * last entry (the state recovery acts on), and whether the engine paused its guest (a PAUSING record).
     *
     * @param order the order in which migrations first appeared in the file
     */
    public record Migration(Role role, String id, Entry first, Entry last, boolean enginePaused, long order) {
        public State state() {
            return last.state();
        }
    }

    /**
     * What opening the journal found.
     *
     * @param tail      what followed the valid records
     * @param cutBytes  bytes cut after them
     * @param upgraded  a text journal of the previous format was rewritten
     * @param keptAside where bytes that were not accepted were copied (damage, or a file that was not a journal)
     * @param dropped   migrations the compaction at start dropped
     */
    public record Opened(JournalReader.Tail tail, long cutBytes, boolean upgraded, Optional<Path> keptAside, int dropped) {
    }

    private final Path dir;
    private final Path file;
    private final Clock clock;
    private final Duration retention;
    private final long compactThreshold;
    private final Opener opener;
    private final ReentrantLock lock = new ReentrantLock();
    /** The write channel (guarded by {@link #lock}). */
    private FileChannel channel;
    /** End of the last record known durable (guarded by {@link #lock}); appends write here. */
    private long end;
    /** Why the journal is unusable, or null (guarded by {@link #lock}; read without it by {@link #usable}). */
    private volatile IOException failure;
    /** Every migration the file holds, by {@link #key}. */
    private final Map<String, Migration> migrations = new ConcurrentHashMap<>();
    private final AtomicLong order = new AtomicLong();
    private final AtomicBoolean compacting = new AtomicBoolean();
    /** Held for a whole compaction: the background one and a direct call never share the new file. */
    private final ReentrantLock compaction = new ReentrantLock();
    private volatile long nextCompaction;
    private final List<Migration> replayed;
    private final Opened opened;

    /** Opens (or creates) the journal in {@code stateDir} with the default retention, on the system clock. */
    public Journal(Path stateDir) throws IOException {
        this(stateDir, DEFAULT_RETENTION, Clock.systemUTC(), COMPACT_THRESHOLD_BYTES);
    }

    /**
     * Opens (or creates) the journal in {@code stateDir}: reads it, cuts what is not valid, upgrades the text
     * format, compacts.
     *
     * @param retention        how long a migration that ended is kept
     * @param compactThreshold file size that starts a compaction
     * @throws IOException when the directory cannot be used, or the journal is of a newer format
     */
    public Journal(Path stateDir, Duration retention, Clock clock, long compactThreshold) throws IOException {
        this(stateDir, retention, clock, compactThreshold, FileChannel::open);
    }

    /** Opens the channels the journal writes through (tests put faults in them). */
    @FunctionalInterface
    interface Opener {
        FileChannel open(Path path, OpenOption... options) throws IOException;
    }

    Journal(Path stateDir, Duration retention, Clock clock, long compactThreshold, Opener opener) throws IOException {
        if (retention.isNegative() || compactThreshold < JournalFormat.HEADER_BYTES) {
            throw new IllegalArgumentException("retention must not be negative, the compaction threshold positive");
        }
        this.dir = stateDir;
        this.file = stateDir.resolve(FILE_NAME);
        this.clock = clock;
        this.retention = retention;
        this.compactThreshold = compactThreshold;
        this.opener = opener;
        Files.createDirectories(stateDir);
        Files.deleteIfExists(stateDir.resolve(FILE_NAME + NEW_SUFFIX)); // an interrupted create, upgrade or compaction
        Optional<Path> aside = Optional.empty();
        boolean upgraded = false;
        switch (kind()) {
            case "EMPTY" -> createEmpty();
            case "TEXT" -> {
                upgradeText();
                upgraded = true;
            }
            case "CORRUPT" -> {
                aside = Optional.of(dir.resolve(FILE_NAME + SET_ASIDE_SUFFIX + clock.millis()));
                Files.move(file, aside.get());
                LOG.error("event=journal_set_aside file={} kept_as={} reason=\"not a journal (bad header)\" action=\"a new journal is begun; recovery knows nothing of what the old file held\"",
                        file, aside.get());
                createEmpty();
            }
            default -> {
            }
        }
        channel = opener.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        long size = channel.size();
        FileChannel c = channel;
        JournalReader.Scan scan = JournalReader.scan(c::read, size, (e, off, len) -> remember(e));
        long cut = size - scan.validEnd();
        if (scan.tail() == JournalReader.Tail.DAMAGED) {
            aside = Optional.of(keepAside(scan.validEnd(), size));
            LOG.error("event=journal_damaged file={} valid_bytes={} cut_bytes={} records={} kept_as={} action=\"replay stops at the first invalid record; recovery keeps in doubt what it cannot prove\"",
                    file, scan.validEnd(), cut, scan.records(), aside.get());
        } else if (scan.tail() == JournalReader.Tail.TORN) {
            LOG.warn("event=journal_torn_tail_cut file={} valid_bytes={} cut_bytes={} records={}", file, scan.validEnd(), cut,
                    scan.records());
        }
        if (cut > 0) {
            channel.truncate(scan.validEnd());
            channel.force(true);
        }
        end = scan.validEnd();
        nextCompaction = compactThreshold;
        int dropped = compact();
        this.replayed = migrations.values().stream().sorted(Comparator.comparingLong(Migration::order)).toList();
        this.opened = new Opened(scan.tail(), cut, upgraded, aside, dropped);
        LOG.info("event=journal_opened file={} bytes={} migrations={} retention={}", file, end, migrations.size(), retention);
    }

    /** EMPTY (no file or an empty one), CURRENT, TEXT, CORRUPT; a newer version throws. */
    private String kind() throws IOException {
        if (!Files.exists(file) || Files.size(file) == 0) {
            return "EMPTY";
        }
        byte[] first = new byte[JournalFormat.HEADER_BYTES];
        int n;
        try (var in = Files.newInputStream(file)) {
            n = in.readNBytes(first, 0, first.length);
        }
        JournalFormat.HeaderKind k = JournalFormat.headerKind(first, n);
        if (k == JournalFormat.HeaderKind.NEWER_VERSION) {
            throw new IOException(file + " is a journal of format version " + JournalFormat.headerVersion(first)
                    + "; this migrationd reads version " + JournalFormat.VERSION
                    + " (run the migrationd that wrote it; nothing was changed)");
        }
        return k.name();
    }

    /** A new journal holding only the header, put in place atomically. */
    private void createEmpty() throws IOException {
        Path tmp = dir.resolve(FILE_NAME + NEW_SUFFIX);
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            writeFully(out, ByteBuffer.wrap(JournalFormat.header()), 0);
            out.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(dir);
        LOG.info("event=journal_created file={}", file);
    }

    /**
     * Rewrites a text journal of the previous format in this one, atomically, keeping the old file beside it.
     * A crash at any point leaves the text journal in place, to be upgraded at the next start.
     */
    private void upgradeText() throws IOException {
        Path tmp = dir.resolve(FILE_NAME + NEW_SUFFIX);
        TextJournal.Read read;
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long[] pos = {writeFully(out, ByteBuffer.wrap(JournalFormat.header()), 0)};
            read = TextJournal.read(file, e -> pos[0] += writeFully(out, JournalFormat.frame(JournalFormat.payload(e)), pos[0]));
            out.force(true);
        }
        Path backup = dir.resolve(FILE_NAME + TEXT_BACKUP_SUFFIX);
        Files.copy(file, backup, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel b = FileChannel.open(backup, StandardOpenOption.WRITE)) {
            b.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(dir);
        LOG.info("event=journal_upgraded file={} from_version=1 to_version={} entries={} skipped_lines={} old_kept_as={}",
                file, JournalFormat.VERSION, read.entries(), read.skipped(), backup);
    }

    /** Copies {@code [from, to)} of the journal beside it before those bytes are cut. */
    private Path keepAside(long from, long to) throws IOException {
        Path aside = dir.resolve(FILE_NAME + DAMAGED_SUFFIX + clock.millis());
        try (FileChannel out = FileChannel.open(aside, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long done = 0;
            while (done < to - from) {
                done += channel.transferTo(from + done, to - from - done, out);
            }
            out.force(true);
        }
        forceDirectory(dir);
        return aside;
    }

    private void remember(Entry e) {
        migrations.compute(key(e.role(), e.id()), (k, m) -> m == null
                ? new Migration(e.role(), e.id(), e, e, e.state() == State.PAUSING, order.getAndIncrement())
                : new Migration(m.role(), m.id(), m.first(), e, m.enginePaused() || e.state() == State.PAUSING, m.order()));
    }

    /** What opening found (the cut tail, an upgrade, what was kept aside). */
    public Opened opened() {
        return opened;
    }

    /** Every migration the journal held once opened (and compacted), in the order they first appeared. */
    public List<Migration> replayed() {
        return replayed;
    }

    /** The last state journaled (and durable) for migration {@code id} in {@code role}, if the journal holds it. */
    public Optional<State> lastState(Role role, String id) {
        return Optional.ofNullable(migrations.get(key(role, id))).map(Migration::state);
    }

    /** What the journal holds of migration {@code id} in {@code role}. */
    public Optional<Migration> migration(Role role, String id) {
        return Optional.ofNullable(migrations.get(key(role, id)));
    }

    private static String key(Role role, String id) {
        return role + "/" + id;
    }

    /** Whether appends are accepted (false from a failed append until {@link #repair}). */
    public boolean usable() {
        return failure == null;
    }

    /** Why the journal is unusable, if it is. */
    public Optional<IOException> failure() {
        return Optional.ofNullable(failure);
    }

    /**
     * Appends one record and forces it to disk. A reason too long for a record is cut first; nothing else is
     * ever changed or dropped.
     *
     * @throws JournalFormat.RecordTooLargeException when the record is too large even so (nothing was written;
     *                                               the journal stays usable)
     * @throws IOException when the write or the force failed (the journal is unusable from now on, see
     *                     {@link #repair}), or the journal was unusable already
     */
    public void append(Entry e) throws IOException {
        ByteBuffer record = JournalFormat.frame(JournalFormat.payload(e));
        String state = e.state().name();
        long size;
        lock.lock();
        try {
            if (failure != null) {
                throw new IOException("journal unusable since a failed write (" + failure.getMessage() + ")", failure);
            }
            try {
                long at = end + writeFully(channel, record, end);
                Failpoints.hit(FailpointNames.JOURNAL_APPEND_BEFORE_FORCE);
                Failpoints.hit(FailpointNames.journalBeforeForce(state));
                channel.force(false);
                Failpoints.hit(FailpointNames.JOURNAL_APPEND_AFTER_FORCE);
                Failpoints.hit(FailpointNames.journalAfterForce(state));
                end = at;
            } catch (IOException ex) {
                failure = ex;
                LOG.error("event=journal_write_failed file={} migration={} state={} durable_bytes={} error=\"{}\" action=\"no more appends until the journal is repaired\"",
                        file, e.id(), state, end, ex.getMessage());
                throw ex;
            }
            remember(e);
            size = end;
        } finally {
            lock.unlock();
        }
        if (size > nextCompaction && compacting.compareAndSet(false, true)) {
            Thread.ofVirtual().name("journal-compact").start(() -> {
                try {
                    compact();
                } catch (IOException ex) {
                    LOG.warn("event=journal_compaction_failed file={} error=\"{}\"", file, ex.getMessage());
                } finally {
                    compacting.set(false);
                }
            });
        }
    }

    /**
     * Makes an unusable journal usable again: reopens the file, cuts it back to the end of the last record
     * known durable and forces that, and the directory. Does nothing when the journal is usable.
     *
     * @throws IOException when that fails too (the journal stays unusable)
     */
    public void repair() throws IOException {
        lock.lock();
        try {
            if (failure == null) {
                return;
            }
            closeQuietly(channel);
            channel = opener.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            long size = channel.size();
            channel.truncate(end);
            channel.force(true);
            forceDirectory(dir);
            LOG.warn("event=journal_repaired file={} durable_bytes={} cut_bytes={} failure_was=\"{}\"", file, end,
                    Math.max(0, size - end), failure.getMessage());
            failure = null;
        } catch (IOException ex) {
            LOG.error("event=journal_repair_failed file={} error=\"{}\"", file, ex.getMessage());
            throw ex;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Rewrites the journal without the migrations that ended more than the retention ago (by the time of their
     * last record); nothing else is dropped or reordered. Records appended meanwhile are copied as well: the
     * bulk is copied without the lock, the rest and the rename under it. Does nothing when nothing is due or
     * the journal is unusable.
     *
     * @return the migrations dropped
     * @throws IOException when the new journal could not be made (the old one stays, and usable) or the
     *                     directory could not be forced after the rename (the journal is unusable until repaired)
     */
    public int compact() throws IOException {
        compaction.lock();
        try {
            return compactAlone();
        } finally {
            compaction.unlock();
        }
    }

    /** {@link #compact} while holding {@link #compaction}. */
    private int compactAlone() throws IOException {
        Instant horizon = clock.instant().minus(retention);
        Set<String> drop = new HashSet<>();
        for (var m : migrations.entrySet()) {
            if (m.getValue().state().terminal() && m.getValue().last().ts().isBefore(horizon)) {
                drop.add(m.getKey());
            }
        }
        long copyEnd;
        lock.lock();
        try {
            copyEnd = end;
            if (drop.isEmpty() || failure != null) {
                nextCompaction = Math.max(compactThreshold, 2 * end);
                return 0;
            }
        } finally {
            lock.unlock();
        }
        Path tmp = dir.resolve(FILE_NAME + NEW_SUFFIX);
        FileChannel out = opener.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
        boolean renamed = false;
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            long[] pos = {writeFully(out, ByteBuffer.wrap(JournalFormat.header()), 0)};
            JournalReader.Scan bulk = JournalReader.scan(in::read, copyEnd, (e, off, len) -> {
                if (!drop.contains(key(e.role(), e.id()))) {
                    pos[0] += copy(in, off, len, out, pos[0]);
                }
            });
            if (bulk.validEnd() != copyEnd) {
                throw new IOException("journal changed under the compaction: record at " + bulk.validEnd() + " is not valid");
            }
            out.force(true);
            lock.lock();
            try {
                if (failure != null) {
                    throw new IOException("journal became unusable during the compaction");
                }
                pos[0] += copy(in, copyEnd, end - copyEnd, out, pos[0]); // appended meanwhile
                out.force(true);
                Failpoints.hit(FailpointNames.JOURNAL_COMPACT_BEFORE_RENAME);
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                renamed = true;
                closeQuietly(channel);
                channel = out;
                long before = end;
                end = pos[0];
                drop.forEach(migrations::remove);
                nextCompaction = Math.max(compactThreshold, 2 * end);
                try {
                    Failpoints.hit(FailpointNames.JOURNAL_COMPACT_AFTER_RENAME);
                    forceDirectory(dir);
                } catch (IOException ex) {
                    failure = ex; // the rename may not be durable: nothing more goes into the new file until repaired
                    throw ex;
                }
                LOG.info("event=journal_compacted file={} bytes_before={} bytes_after={} migrations_dropped={} migrations_kept={} retention={}",
                        file, before, end, drop.size(), migrations.size(), retention);
            } finally {
                lock.unlock();
            }
        } catch (IOException ex) {
            if (!renamed) {
                closeQuietly(out);
                Files.deleteIfExists(tmp);
            }
            throw ex;
        }
        return drop.size();
    }

    private static long copy(FileChannel in, long from, long len, FileChannel out, long at) throws IOException {
        long done = 0;
        while (done < len) {
            long n = in.transferTo(from + done, len - done, out.position(at + done));
            if (n <= 0) {
                throw new IOException("journal ended at " + (from + done) + " while compacting");
            }
            done += n;
        }
        return len;
    }

    /** Writes all of {@code b} at {@code at}; returns how many bytes that was. */
    private static int writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        int n = b.remaining();
        long p = at;
        while (b.hasRemaining()) {
            p += ch.write(b, p);
        }
        return n;
    }

    /** Forces a directory's entries (a created or renamed file) to disk. */
    static void forceDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void closeQuietly(FileChannel c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException e) {
            LOG.debug("event=journal_close_failed error=\"{}\"", e.getMessage());
        }
    }

    /** Every migration the journal holds now (for tests and the history), in the order they first appeared. */
    public List<Migration> migrations() {
        List<Migration> out = new ArrayList<>(migrations.values());
        out.sort(Comparator.comparingLong(Migration::order));
        return out;
    }

    @Override
    public void close() throws IOException {
        lock.lock();
        try {
            channel.close();
        } finally {
            lock.unlock();
        }
    }
}
