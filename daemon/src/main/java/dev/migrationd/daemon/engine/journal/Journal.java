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
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
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
 * <p><b>Opening</b> reads the longest valid prefix. A torn tail (a crash in the middle of an append) is cut
 * with one warning. Damage — an invalid record followed by valid ones, or by more bytes than one interrupted
 * append leaves — is not a crash's doing but bit rot or an overwrite, and what follows it may hold committed
 * records: opening refuses it ({@link DamagedException}, naming the offset) and changes nothing, until an
 * operator runs {@link #repairDamage} ({@code migrationd --journal-repair}), which keeps the whole damaged file
 * beside the journal and cuts it at the damage. A journal of the previous text format is rewritten in this
 * one first; a file whose header is not a journal's is set aside and a new journal begun. A journal of a newer
 * format stops the daemon too (nothing is changed). The file is never read whole: each migration is kept as
 * its first and last entries ({@link Migration}).
 *
 * <p><b>A failed append</b> (a short write, ENOSPC, EIO, a failed fsync) leaves the journal unusable: every
 * later append fails at once, so nothing is ever written after a fragment, until {@link #repair} cuts the file
 * back to the end of the last record known durable and forces that. After a failed fsync nobody knows whether
 * the record reached the disk; once repaired, it certainly has not.
 *
 * <p><b>Compaction</b> ({@link #compact}) is the journal's checkpoint. It drops the migrations that ended more
 * than the retention ago, and of every other migration the records that replay no longer needs: it keeps
 * the first (the start's fields), any PAUSING (the engine paused the guest) and the last (the state recovery
 * acts on), in order, so that replaying the new file gives the same {@link Migration}s as the old one. It
 * writes a new file, forces it, renames it over the journal and forces the directory, so a crash at any point
 * leaves the old journal or the new one, and the next start compacts again. It runs when the journal is
 * opened, after the replay, whenever there is something to drop (after a migration there is: its middle
 * records), and, on a virtual thread, whenever the file has grown past the threshold.
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
    /** A damaged journal, kept whole by {@link #repairDamage}: {@code migrations.journal.damaged-<epoch millis>}. */
    static final String DAMAGED_SUFFIX = ".damaged-";
    /** A file that is not a journal, set aside: {@code migrations.journal.not-a-journal-<epoch millis>}. */
    static final String SET_ASIDE_SUFFIX = ".not-a-journal-";
    /** How long an ended migration is kept: as long as a peer may still ask about it. */
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    /**
     * The field of a terminal record (DONE, FAILED…) holding the downtime that side measured, in whole
     * milliseconds rounded up, when the migration paused the guest: the history read back after a restart
     * reports it rather than nothing.
     */
    public static final String DOWNTIME_FIELD = "downtime_ms";
    /** The largest {@link #DOWNTIME_FIELD} read back (a day); a larger or malformed value is ignored. */
    public static final Duration MAX_DOWNTIME_READ = Duration.ofDays(1);

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

        /** {@link #DOWNTIME_FIELD}, if it holds a whole number of milliseconds within {@link #MAX_DOWNTIME_READ}. */
        public Optional<Duration> downtime() {
            String v = field(DOWNTIME_FIELD);
            if (v.isEmpty() || v.length() > 12 || !v.chars().allMatch(Character::isDigit)) {
                return Optional.empty();
            }
            Duration d = Duration.ofMillis(Long.parseLong(v));
            return d.compareTo(MAX_DOWNTIME_READ) > 0 ? Optional.empty() : Optional.of(d);
        }

        /** {@code fields} with {@link #DOWNTIME_FIELD} set to {@code d} (whole milliseconds, rounded up). */
        public static Map<String, String> withDowntime(Map<String, String> fields, Duration d) {
            Map<String, String> out = new java.util.HashMap<>(fields);
            long ms = (d.toNanos() + 999_999) / 1_000_000;
            out.put(DOWNTIME_FIELD, Long.toString(Math.max(0, ms)));
            return out;
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
    /** Held by the one compaction running (at start, in the background or called); taken before {@link #lock}. */
    private final ReentrantLock compactionLock = new ReentrantLock();
    /**
     * Where appends and repairs do their I/O: one platform thread ({@code journal-io}, started on demand, gone
     * when idle), never the caller's. A {@link FileChannel} is closed for every user when a thread blocked in
     * it is interrupted, and a migration's thread is interrupted when it is cancelled: done on that thread, one
     * cancel made the journal unusable for every migration. The caller waits without reacting to interrupts
     * and keeps its interrupt status.
     */
    private final ThreadPoolExecutor io = new ThreadPoolExecutor(0, 1, IO_THREAD_IDLE_SECONDS, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), Thread.ofPlatform().name("journal-io").daemon(true).factory());
    /** The write channel (guarded by {@link #lock}; used by {@link #io}'s thread while the caller holds it). */
    private FileChannel channel;
    /** End of the last record known durable (guarded by {@link #lock}); appends write here. */
    private long end;
    /** Why the journal is unusable, or null (guarded by {@link #lock}; read without it by {@link #usable}). */
    private volatile IOException failure;
    /** Every migration the file holds, by {@link #key}. */
    private final Map<String, Migration> migrations = new ConcurrentHashMap<>();
    private final AtomicLong order = new AtomicLong();
    private final AtomicBoolean compacting = new AtomicBoolean();
    /**
     * Records in the file that a compaction would drop as superseded (neither the first, a PAUSING nor the last
     * of their migration): counted as records are replayed and appended, reset by a compaction (records
     * appended while it ran are not recounted: an estimate that errs towards not compacting).
     */
    private final AtomicLong superseded = new AtomicLong();
    private volatile long nextCompaction;
    private final List<Migration> replayed;
    private final Opened opened;

    /** How long the idle {@code journal-io} thread waits for more work before it ends. */
    static final long IO_THREAD_IDLE_SECONDS = 30;

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
            closeQuietly(channel);
            DamagedException damaged = new DamagedException(file, scan.validEnd(), size);
            LOG.error("event=journal_damaged file={} offset={} size={} valid_records={} action=\"refusing to start, nothing changed: keep a copy of the state directory, then run migrationd --journal-repair\"",
                    file, scan.validEnd(), size, scan.records());
            throw damaged;
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

    /**
     * A journal damaged in the middle: the record at {@link #offset()} is not valid, and what follows is not what
     * an interrupted append leaves. Nothing was changed.
     */
    public static final class DamagedException extends IOException {
        private final transient Path file;
        private final long offset;
        private final long size;

        DamagedException(Path file, long offset, long size) {
            super(file + " is damaged at byte offset " + offset + " of " + size + ": the record there is not valid and "
                    + "what follows is not a torn write (bit rot or an overwrite; it may hold committed records); nothing "
                    + "was changed. Keep a copy of the state directory, then run migrationd --journal-repair with the same "
                    + "configuration: it keeps the whole file as " + FILE_NAME + DAMAGED_SUFFIX + "<time> and cuts the "
                    + "journal at offset " + offset + " (recovery then keeps in doubt what it cannot prove)");
            this.file = file;
            this.offset = offset;
            this.size = size;
        }

        public Path file() {
            return file;
        }

        /** Where the first invalid record starts: the end of the valid prefix. */
        public long offset() {
            return offset;
        }

        public long size() {
            return size;
        }
    }

    /**
     * What {@link #repairDamage} did.
     *
     * @param offset  where the journal was cut (the end of its valid prefix)
     * @param cut     bytes cut from the journal
     * @param keptAs  the copy of the whole damaged file
     */
    public record Repaired(long offset, long cut, Path keptAs) {
    }

    /**
     * Repairs a journal that opening refused as damaged ({@link DamagedException}), with the daemon stopped: copies
     * the whole file beside it ({@code migrations.journal.damaged-<epoch millis>}, forced), then cuts the journal
     * at the end of its valid prefix and forces it. Records after the damage are not replayed from then on;
     * recovery acts only on what the journal proves, so a migration whose records were lost is kept in doubt
     * rather than guessed. Changes nothing when the journal is not damaged (empty).
     *
     * @throws IOException when the journal cannot be read, copied or cut (a copy already made is left)
     */
    public static Optional<Repaired> repairDamage(Path stateDir, Clock clock) throws IOException {
        Path file = stateDir.resolve(FILE_NAME);
        if (!Files.exists(file) || Files.size(file) < JournalFormat.HEADER_BYTES) {
            return Optional.empty();
        }
        byte[] first = new byte[JournalFormat.HEADER_BYTES];
        try (var in = Files.newInputStream(file)) {
            if (in.readNBytes(first, 0, first.length) != first.length
                    || JournalFormat.headerKind(first, first.length) != JournalFormat.HeaderKind.CURRENT) {
                return Optional.empty(); // text, newer or not a journal: opening handles those
            }
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            JournalReader.Scan scan = JournalReader.scan(ch::read, size, (e, off, len) -> { });
            if (scan.tail() != JournalReader.Tail.DAMAGED) {
                return Optional.empty();
            }
            Path aside = stateDir.resolve(FILE_NAME + DAMAGED_SUFFIX + clock.millis());
            try (FileChannel out = FileChannel.open(aside, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long done = 0;
                while (done < size) {
                    done += ch.transferTo(done, size - done, out);
                }
                out.force(true);
            }
            forceDirectory(stateDir);
            ch.truncate(scan.validEnd());
            ch.force(true);
            LOG.warn("event=journal_damage_repaired file={} offset={} cut_bytes={} valid_records={} kept_as={}", file,
                    scan.validEnd(), size - scan.validEnd(), scan.records(), aside);
            return Optional.of(new Repaired(scan.validEnd(), size - scan.validEnd(), aside));
        }
    }

    private void remember(Entry e) {
        migrations.compute(key(e.role(), e.id()), (k, m) -> {
            if (m == null) {
                return new Migration(e.role(), e.id(), e, e, e.state() == State.PAUSING, order.getAndIncrement());
            }
            if (m.last() != m.first() && m.last().state() != State.PAUSING) {
                superseded.incrementAndGet();
            }
            return new Migration(m.role(), m.id(), m.first(), e, m.enginePaused() || e.state() == State.PAUSING, m.order());
        });
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
                long start = end;
                FileChannel c = channel;
                end = onIoThread(() -> {
                    long at = start + writeFully(c, record, start);
                    Failpoints.hit(FailpointNames.JOURNAL_APPEND_BEFORE_FORCE);
                    Failpoints.hit(FailpointNames.journalBeforeForce(state));
                    c.force(false);
                    Failpoints.hit(FailpointNames.JOURNAL_APPEND_AFTER_FORCE);
                    Failpoints.hit(FailpointNames.journalAfterForce(state));
                    return at;
                });
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
            long durable = end;
            FileChannel c = onIoThread(() -> opener.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE));
            channel = c;
            long size = onIoThread(() -> {
                long was = c.size();
                c.truncate(durable);
                c.force(true);
                forceDirectory(dir);
                return was;
            });
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
     * last record) and without the superseded records of the others (all but the first, any PAUSING and the
     * last); nothing is reordered, and replaying the result gives the same migrations, less the expired ones.
     * Records appended meanwhile are copied as they are: the bulk is copied without the lock, the rest and the
     * rename under it. Does nothing when nothing is due or the journal is unusable.
     *
     * @return the migrations dropped
     * @throws IOException when the new journal could not be made (the old one stays, and usable) or the
     *                     directory could not be forced after the rename (the journal is unusable until repaired)
     */
    public int compact() throws IOException {
        compactionLock.lock(); // two at once would write the same temporary file
        try {
            return compactOnce();
        } finally {
            compactionLock.unlock();
        }
    }

    private int compactOnce() throws IOException {
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
            if ((drop.isEmpty() && superseded.get() == 0) || failure != null) {
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
            // first pass: where each migration's first and last record (up to copyEnd) are
            Map<String, long[]> ends = new java.util.HashMap<>();
            JournalReader.Scan bounds = JournalReader.scan(in::read, copyEnd,
                    (e, off, len) -> ends.computeIfAbsent(key(e.role(), e.id()), k -> new long[] {off, off})[1] = off);
            if (bounds.validEnd() != copyEnd) {
                throw new IOException("journal changed under the compaction: record at " + bounds.validEnd() + " is not valid");
            }
            long[] pos = {writeFully(out, ByteBuffer.wrap(JournalFormat.header()), 0)};
            long[] records = {0, 0};
            JournalReader.Scan bulk = JournalReader.scan(in::read, copyEnd, (e, off, len) -> {
                String k = key(e.role(), e.id());
                long[] firstLast = ends.get(k);
                records[0]++;
                if (!drop.contains(k) && (off == firstLast[0] || off == firstLast[1] || e.state() == State.PAUSING)) {
                    pos[0] += copy(in, off, len, out, pos[0]);
                    records[1]++;
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
                superseded.set(0);
                nextCompaction = Math.max(compactThreshold, 2 * end);
                try {
                    Failpoints.hit(FailpointNames.JOURNAL_COMPACT_AFTER_RENAME);
                    forceDirectory(dir);
                } catch (IOException ex) {
                    failure = ex; // the rename may not be durable: nothing more goes into the new file until repaired
                    throw ex;
                }
                LOG.info("event=journal_compacted file={} bytes_before={} bytes_after={} records_before={} records_kept={} migrations_dropped={} migrations_kept={} retention={}",
                        file, before, end, records[0], records[1], drop.size(), migrations.size(), retention);
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
            io.shutdown();
        }
    }

    /**
     * Runs {@code work} on the {@code journal-io} thread and waits for it, through interrupts (see {@link #io}).
     * Its IOException, RuntimeException or Error is rethrown as it is.
     */
    private <T> T onIoThread(Callable<T> work) throws IOException {
        Future<T> f = io.submit(work);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    switch (e.getCause()) {
                        case IOException io -> throw io;
                        case RuntimeException r -> throw r;
                        case Error err -> throw err;
                        default -> throw new IOException(e.getCause());
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
