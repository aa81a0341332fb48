package dev.migrationd.daemon.engine.file;

import dev.migrationd.daemon.engine.precopy.PageSender;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationAbort;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.RoundStats;
import dev.migrationd.daemon.engine.run.Ticker;
import dev.migrationd.daemon.engine.stream.DestinationStream;
import dev.migrationd.daemon.engine.stream.SourceStream;
import dev.migrationd.daemon.engine.stream.IncomingStream;
import dev.migrationd.daemon.engine.stream.StreamOut;
import dev.migrationd.daemon.engine.stream.ToolstackDestinationStream;
import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.legacy.LibxlConfigJson;
import dev.migrationd.protocol.legacy.ToolstackWrappers;
import dev.migrationd.protocol.legacy.XlSaveHeader;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Save to and restore from a file, through the same source stream, page sender and destination stream a
 * migration uses. The file holds exactly the save stream in the requested format (legacy, or the libxc
 * layer of v2, which Xen's {@code verify-stream-v2 -f libxc} accepts); a sidecar {@code FILE.meta}
 * (properties) records the format and the domain's shape, which neither stream carries up front (vCPU
 * count, UUID). Nothing is overwritten without {@link SaveRequest#overwrite()}.
 *
 * <p>Files are written so that nothing else is touched and nothing is claimed before it is durable: the
 * stream goes to {@code FILE.partial} and the metadata to {@code FILE.meta.partial}, each created with
 * {@code O_EXCL} semantics (an existing file or symbolic link there, planted or left over, stops the save:
 * nothing is truncated or followed), each forced to disk, then renamed into place, then the directory is
 * forced; only then is the source domain destroyed (retried; a destroy that keeps failing is reported,
 * not claimed done). A symbolic link at the target or its {@code .meta} is refused, so is a path inside the
 * daemon's state directory or outside {@code save-dirs} ({@link FilePolicy}).
 *
 * <p>Restore refuses a saved domain whose UUID is running on this host (two copies of one guest) unless
 * the request asks for a new UUID.
 *
 * <p>Runs on the caller's thread.
 */
public final class SaveRestore {

    private static final Logger LOG = LoggerFactory.getLogger(SaveRestore.class);

    /** Live-save rounds before the guest is paused regardless. */
    static final int LIVE_SAVE_MAX_ROUNDS = 5;
    /** Live save stops pre-copy once fewer pages than this are dirty. */
    static final long LIVE_SAVE_MIN_PAGES = 50;
    /** Read size when restoring. */
    static final int READ_CHUNK = 1 << 20;
    static final String META_SUFFIX = ".meta";
    private SaveRestore() {
    }

    /**
     * What a save or restore tells the operation that runs it, on the operation's thread: where it is, each
     * live-save round, the cancellation checkpoints, and the commit point. The no-op {@link #NONE} is for
     * callers that only want the result.
     */
    public interface Progress {
        /** A live save is in round {@code round} (0 writes every populated page). */
        default void preCopy(int round) {
        }

        /** A live-save round has been written. */
        default void roundDone(RoundStats stats) {
        }

        /** The guest is paused; the last pages (save) or the stream (restore) follow. */
        default void stopped() {
        }

        /** Throws when the operation was cancelled (or failed elsewhere): nothing is committed yet. */
        default void check() throws MigrationAbort {
        }

        /**
         * The commit point: a save's file is complete and synced, a restore's domain fully built and paused.
         * Throws, and nothing is committed, when the operation was cancelled before; after it returns the
         * operation goes on to its end.
         */
        default void commit() throws MigrationAbort {
        }

        Progress NONE = new Progress() {
        };
    }

    public static Path metaFile(Path file) {
        return file.resolveSibling(file.getFileName() + META_SUFFIX);
    }

    /** Attempts at destroying the source domain after a save before the failure is reported. */
    static final int DESTROY_ATTEMPTS = 3;
    /** Pause between those attempts. */
    static final Duration DESTROY_RETRY = Duration.ofMillis(200);
    static final String PARTIAL_SUFFIX = ".partial";

    /**
     * The file a save of {@code file} writes, once the policy allows it: refused when its {@code .meta} is a
     * symbolic link, or when it or its {@code .meta} exists and {@code overwrite} was not asked for.
     */
    public static Path target(FilePolicy policy, Path file, boolean overwrite) throws EngineException {
        Path target = policy.forWriting(file);
        Path metaTarget = metaFile(target);
        if (Files.isSymbolicLink(metaTarget)) {
            throw new EngineException(EngineException.Kind.PERMISSION_DENIED, metaTarget
                    + " is a symbolic link; save never writes through or replaces one");
        }
        if (!overwrite && (Files.exists(target, LinkOption.NOFOLLOW_LINKS) || Files.exists(metaTarget, LinkOption.NOFOLLOW_LINKS))) {
            throw new EngineException(EngineException.Kind.ALREADY_EXISTS, target + " exists (use --force to replace it)");
        }
        return target;
    }

    public static SaveResult save(Hypervisor hypervisor, Ticker ticker, SaveRequest request, FilePolicy policy)
            throws EngineException {
        return save(hypervisor, ticker, request, policy, Progress.NONE);
    }

    /**
     * Saves as {@link #save(Hypervisor, Ticker, SaveRequest, FilePolicy)}, telling {@code progress} as it goes;
     * a cancel seen at a checkpoint or at the commit point leaves no file and the domain resumed.
     */
    public static SaveResult save(Hypervisor hypervisor, Ticker ticker, SaveRequest request, FilePolicy policy,
                                  Progress progress) throws EngineException {
        Path target = target(policy, request.file(), request.overwrite());
        Path metaTarget = metaFile(target);
        SaveRequest req = request.withFile(target);
        Domain domain;
        DomainInfo info;
        Optional<ToolstackConfig> toolstackConfig;
        try {
            domain = hypervisor.findDomain(req.domain()).orElseThrow(
                    () -> new EngineException(EngineException.Kind.NOT_FOUND, "no domain named " + req.domain()));
            info = domain.info();
            // before the guest is suspended, as xl save takes it
            toolstackConfig = domain.toolstackConfig();
        } catch (HypervisorException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, e.getMessage(), e);
        }
        byte[] xlHeader = req.xlFile() ? xlHeader(req, info, toolstackConfig) : null;
        Path partial = req.file().resolveSibling(req.file().getFileName() + PARTIAL_SUFFIX);
        FileChannel ch0 = createExclusive(partial);
        boolean paused = false;
        boolean logEnabled = false;
        long t0 = ticker.nanoTime();
        long pausedAt = 0;
        int rounds = 0;
        long bytes;
        try (FileChannel ch = ch0;
             DirtyBitmap toSend = new DirtyBitmap(info.p2mSize());
             DirtyBitmap extra = new DirtyBitmap(info.p2mSize())) {
            StreamOut out = StreamOut.to(ch);
            LibxlWriter libxl = null;
            if (xlHeader != null) {
                out.write(ByteBuffer.wrap(xlHeader));
                libxl = new LibxlWriter(out);
                libxl.writeHeader(new LibxlHeader(false));
                libxl.write(LibxlSignalRecord.LIBXC_CONTEXT);
            }
            SourceStream stream = SourceStream.of(req.format(), out, domain, info);
            PageSender sender = new PageSender(domain.memory(), stream, out, req.bandwidthCap(), ticker, progress::check);
            if (req.live()) {
                domain.dirtyLog().enable();
                logEnabled = true;
            } else {
                domain.pause();
                paused = true;
                pausedAt = ticker.nanoTime();
            }
            stream.writeHeader();
            domain.memory().populated(toSend);
            if (req.live()) {
                long dirty;
                do {
                    progress.preCopy(rounds);
                    long r0 = ticker.nanoTime();
                    long b0 = out.bytes();
                    long sent = sender.send(toSend);
                    dirty = domain.dirtyLog().fetchAndClear(toSend);
                    long took = ticker.nanoTime() - r0;
                    progress.roundDone(new RoundStats(rounds, dirty, sent, out.bytes() - b0, took, 0,
                            took > 0 ? (out.bytes() - b0) * 1e9 / took : 0, 0, dirty, out.bytes(),
                            ticker.nanoTime() - t0, info.p2mSize(), 0));
                    rounds++;
                } while (dirty >= LIVE_SAVE_MIN_PAGES && rounds < LIVE_SAVE_MAX_ROUNDS);
                progress.check();
                domain.pause();
                paused = true;
                pausedAt = ticker.nanoTime();
                domain.dirtyLog().fetchAndClear(extra);
                for (long i = 0; i < toSend.wordCount(); i++) {
                    toSend.setWord(i, toSend.word(i) | extra.word(i));
                }
            }
            progress.stopped();
            TscInfo tsc = domain.platform().tscInfo();
            stream.writeStopAndCopy(tsc);
            sender.send(toSend);
            rounds++;
            stream.writeEndOfBody();
            stream.writeTail();
            if (libxl != null) {
                libxl.write(LibxlSignalRecord.END);
            }
            ch.force(true);
            bytes = out.bytes();
            progress.commit();
        } catch (MigrationAbort e) {
            undoSave(domain, partial, paused, logEnabled);
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "save of " + req.domain() + ": "
                    + e.getMessage() + "; no file was written and the domain runs as before", e);
        } catch (IOException | HypervisorException | RuntimeException e) {
            undoSave(domain, partial, paused, logEnabled);
            throw new EngineException(EngineException.Kind.INTERNAL, "save of " + req.domain() + " failed: "
                    + MigrationAbort.describe(e) + "; no file was written and the domain runs as before", e);
        }
        Path metaPartial = metaTarget.resolveSibling(metaTarget.getFileName() + PARTIAL_SUFFIX);
        boolean metaCreated = false;
        try {
            if (logEnabled) {
                domain.dirtyLog().disable();
            }
            try (FileChannel meta = createExclusive(metaPartial)) {
                metaCreated = true;
                writeMeta(meta, req.file(), info, req.format(), toolstackConfig);
            }
            Files.move(metaPartial, metaTarget, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(partial, req.file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(req.file().getParent());
        } catch (IOException | HypervisorException | EngineException e) {
            if (metaCreated) {
                deleteQuietly(metaPartial);
            }
            undoSave(domain, partial, paused, false);
            throw new EngineException(EngineException.Kind.INTERNAL, "save of " + req.domain() + " failed: "
                    + MigrationAbort.describe(e), e);
        }
        // the file, its metadata and their names are on disk: only now may the domain go
        long downtime = ticker.nanoTime() - pausedAt;
        try {
            if (req.leaveRunning()) {
                domain.resume();
            } else {
                destroyAfterSave(domain, req);
            }
            LOG.info("event=saved domain={} file={} bytes={} rounds={} left_running={}", req.domain(), req.file(), bytes,
                    rounds, req.leaveRunning());
            return new SaveResult(req.file(), bytes, rounds, Duration.ofNanos(downtime));
        } catch (HypervisorException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "saved " + req.domain() + " to " + req.file()
                    + " but could not resume it: " + e.getMessage() + "; it is paused", e);
        } finally {
            LOG.debug("event=save_time domain={} ms={}", req.domain(), (ticker.nanoTime() - t0) / 1_000_000);
        }
    }

    /**
     * Destroys the saved domain, retrying a failure; if it keeps failing the save is reported as not done
     * (the file is complete, the domain still exists, paused), never as a success.
     */
    private static void destroyAfterSave(Domain domain, SaveRequest req) throws EngineException {
        HypervisorException last = null;
        for (int attempt = 1; attempt <= DESTROY_ATTEMPTS; attempt++) {
            try {
                domain.destroy();
                return;
            } catch (HypervisorException e) {
                last = e;
                LOG.warn("event=destroy_after_save_failed domain={} attempt={} of={} error=\"{}\"", req.domain(), attempt,
                        DESTROY_ATTEMPTS, e.getMessage());
                try {
                    Thread.sleep(DESTROY_RETRY);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        LOG.error("event=save_incomplete domain={} file={} error=\"{}\"", req.domain(), req.file(), last == null ? "interrupted" : last.getMessage());
        throw new EngineException(EngineException.Kind.INTERNAL, "saved " + req.domain() + " to " + req.file()
                + ", but destroying the domain failed after " + DESTROY_ATTEMPTS + " attempts ("
                + (last == null ? "interrupted" : last.getMessage()) + "); it still exists, paused: destroy it before "
                + "restoring the file", last);
    }

    /**
     * Creates {@code file} for writing, failing if anything exists under that name, a symbolic link
     * included (O_CREAT|O_EXCL never follows one).
     */
    private static FileChannel createExclusive(Path file) throws EngineException {
        try {
            return FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        } catch (FileAlreadyExistsException e) {
            throw new EngineException(EngineException.Kind.ALREADY_EXISTS, file + " exists (left by an interrupted save, "
                    + "or put there by someone else): remove it and save again; nothing was written");
        } catch (IOException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "cannot create " + file + ": " + e.getMessage(), e);
        }
    }

    /** Forces a directory's entries (the renames into it) to disk. */
    private static void forceDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("event=cleanup_step_failed step=delete_partial file={} error=\"{}\"", p, e.getMessage());
        }
    }

    /** Before the file is in place: removes the temporary file this save created, and lets the guest run again. */
    private static void undoSave(Domain domain, Path partial, boolean paused, boolean logEnabled) {
        deleteQuietly(partial);
        try {
            if (logEnabled) {
                domain.dirtyLog().disable();
            }
            if (paused) {
                domain.resume();
            }
        } catch (HypervisorException e) {
            LOG.error("event=cleanup_step_failed step=resume error=\"{}\"", e.getMessage());
        }
    }

    /**
     * xl's header for an xl save file: the domain's libxl configuration as JSON, as {@code xl save} writes it (with
     * its trailing NUL), or, for a domain no libxl describes (another backend, no libxl on this host), a minimal one
     * from what the hypervisor knows (name, UUID, type, vCPUs, memory). An HVM guest is refused: its device model's
     * state is not saved (the QEMU record is empty), and {@code xl restore} would start its device model without it.
     */
    private static byte[] xlHeader(SaveRequest req, DomainInfo info, Optional<ToolstackConfig> config) throws EngineException {
        if (info.guestType() == GuestType.HVM && !info.pvh()) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "an xl save file of the HVM guest "
                    + req.domain() + " is not written: migrationd does not save its device model's state, without which "
                    + "xl restore cannot start the guest's device model (save it without --xl, or with xl save)");
        }
        String json = config.map(ToolstackConfig::json).orElseGet(() -> LibxlConfigJson.minimal(info.name(), info.uuid(),
                info.guestType() == GuestType.PV ? "pv" : "pvh", info.vcpus(),
                info.memoryBytes() > 0 ? info.memoryBytes() : info.p2mSize() * 4096));
        return XlSaveHeader.forStreamV2(LibxlConfigJson.withNul(json.getBytes(StandardCharsets.UTF_8)), true);
    }

    private static void writeMeta(FileChannel meta, Path file, DomainInfo info, MigrationOptions.StreamFormat format,
                                  Optional<ToolstackConfig> toolstackConfig) throws IOException {
        Properties p = new Properties();
        toolstackConfig.ifPresent(c -> p.setProperty(META_TOOLSTACK_CONFIG, c.json()));
        p.setProperty("format", formatName(format));
        p.setProperty("name", info.name());
        p.setProperty("uuid", info.uuid().toString());
        p.setProperty("p2mSize", Long.toString(info.p2mSize()));
        p.setProperty("vcpus", Integer.toString(info.vcpus()));
        p.setProperty("guestType", info.guestType().name());
        p.setProperty("guestWidth", Integer.toString(info.guestWidth().bits()));
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        p.store(o, "migrationd save file metadata (the stream itself is " + file.getFileName() + ")");
        ByteBuffer b = ByteBuffer.wrap(o.toByteArray());
        while (b.hasRemaining()) {
            meta.write(b);
        }
        meta.force(true);
    }

    /**
     * What a restore knows before it builds anything: for migrationd's own files, what the metadata beside the file
     * says (the domain's shape, the stream's format, and the domain's toolstack configuration when it had one);
     * for an xl save file, its header (which carries the configuration, and no shape).
     *
     * @param shape           the saved domain's shape under the new name; null for an xl file
     * @param format          the stream's format (an xl file's stream is v2 or legacy as its flags say)
     * @param toolstackConfig the configuration libxl builds the domain from; null when the domain had none
     * @param xl              the xl header, or null for migrationd's own files
     * @param uuid            the saved guest's UUID, or null when an xl file's configuration names none
     * @param guestType       the guest's type (PVH is HVM here)
     */
    public record Saved(DomainShape shape, MigrationOptions.StreamFormat format, ToolstackConfig toolstackConfig,
                        XlSaveHeader xl, UUID uuid, GuestType guestType) {
        Saved(DomainShape shape, MigrationOptions.StreamFormat format, ToolstackConfig toolstackConfig) {
            this(shape, format, toolstackConfig, null, shape.uuid(), shape.guestType());
        }
    }

    /** The property of {@code FILE.meta} that holds the domain's toolstack configuration (libxl JSON). */
    static final String META_TOOLSTACK_CONFIG = "toolstackConfig";

    static String formatName(MigrationOptions.StreamFormat f) {
        return f.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** What {@code req}'s file is and holds, checked as far as it can be before anything is built. */
    public static Saved inspect(Hypervisor hypervisor, RestoreRequest req) throws EngineException {
        if (!Files.exists(req.file())) {
            throw new EngineException(EngineException.Kind.NOT_FOUND, "no save file " + req.file());
        }
        byte[] start = new byte[ToolstackWrappers.XL_MAGIC.length];
        int n;
        try (InputStream in = Files.newInputStream(req.file())) {
            n = in.readNBytes(start, 0, start.length);
        } catch (IOException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "cannot read " + req.file() + ": " + e.getMessage(), e);
        }
        if (XlSaveHeader.hasMagic(start, n)) {
            return inspectXl(hypervisor, req);
        }
        Saved saved = readMeta(req.file(), req.name());
        if (throughToolstack(hypervisor, saved) && req.newUuid()) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "the domain saved in " + req.file()
                    + " is rebuilt by libxl from its configuration, which gives it the saved UUID: --new-uuid cannot be "
                    + "honoured");
        }
        return saved;
    }

    /**
     * An xl save file: its header read as xl restore reads it; its configuration must be libxl JSON (xl's older
     * config-file text needs xl's own parser), and the host must have a toolstack that builds a domain from a
     * libxl stream (Xen with libxl), since the file carries no shape for the engine to build one from.
     */
    private static Saved inspectXl(Hypervisor hypervisor, RestoreRequest req) throws EngineException {
        XlSaveHeader h;
        try (InputStream in = Files.newInputStream(req.file())) {
            h = XlSaveHeader.read(in);
        } catch (IOException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "cannot read " + req.file() + ": " + e.getMessage(), e);
        } catch (StreamException e) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + " is not a valid xl save file: "
                    + e.getMessage(), e);
        }
        if (h.config() == null || h.configText().isBlank()) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + " is an xl save file without "
                    + "the domain's configuration (" + h.describe() + "); restore it with 'xl restore CONFIG " + req.file()
                    + "'");
        }
        if (!h.json()) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + " carries its configuration "
                    + "in xl's config-file syntax (xl before Xen 4.5), which only xl parses; restore it with 'xl restore "
                    + req.file() + "'");
        }
        String json = h.configText();
        String problem = ToolstackConfig.problem(json);
        if (problem != null) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + ": the configuration in its xl "
                    + "header " + problem);
        }
        if (!hypervisor.capabilities().contains(Capability.STREAM_RESTORE)) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, req.file() + " is an xl save file: "
                    + "libxl builds its domain from the configuration and the libxl stream in it, and the "
                    + hypervisor.backend() + " backend has no libxl (on Xen: libxenlight must load when the daemon starts)");
        }
        if (req.newUuid()) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + " is an xl save file: libxl "
                    + "gives the domain the UUID in its configuration, so --new-uuid cannot be honoured");
        }
        ToolstackConfig config = new ToolstackConfig(json);
        UUID uuid = null;
        try {
            uuid = config.string("c_info", "uuid").map(UUID::fromString).orElse(null);
        } catch (IllegalArgumentException e) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file() + ": c_info.uuid of its "
                    + "configuration is not a UUID", e);
        }
        GuestType type = config.string("c_info", "type").map(t -> t.equals("pv") ? GuestType.PV : GuestType.HVM)
                .orElse(GuestType.HVM);
        return new Saved(null, h.streamV2() ? MigrationOptions.StreamFormat.V2 : MigrationOptions.StreamFormat.LEGACY,
                config, h, uuid, type);
    }

    public static Saved readMeta(Path file, String name) throws EngineException {
        Path meta = metaFile(file);
        if (!Files.exists(file)) {
            throw new EngineException(EngineException.Kind.NOT_FOUND, "no save file " + file);
        }
        if (!Files.exists(meta)) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "no " + meta
                    + ": the stream does not carry the domain's shape; restore needs the metadata saved with it");
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(meta)) {
            p.load(in);
            String format = p.getProperty("format", "legacy");
            MigrationOptions.StreamFormat f = switch (format) {
                case "legacy" -> MigrationOptions.StreamFormat.LEGACY;
                case "v2" -> MigrationOptions.StreamFormat.V2;
                default -> throw new IllegalArgumentException("unknown stream format '" + format + "'");
            };
            String tc = p.getProperty(META_TOOLSTACK_CONFIG);
            return new Saved(new DomainShape(name, UUID.fromString(p.getProperty("uuid")),
                    Long.parseLong(p.getProperty("p2mSize")), Integer.parseInt(p.getProperty("vcpus")),
                    GuestType.valueOf(p.getProperty("guestType")), Width.ofBits(Integer.parseInt(p.getProperty("guestWidth")))), f,
                    tc == null ? null : new ToolstackConfig(tc));
        } catch (IOException | RuntimeException e) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, meta + " is not valid save metadata: "
                    + MigrationAbort.describe(e), e);
        }
    }

    public static RestoreResult restore(Hypervisor hypervisor, Ticker ticker, RestoreRequest request, FilePolicy policy)
            throws EngineException {
        return restore(hypervisor, ticker, request, policy, Progress.NONE);
    }

    /** Whether the host's toolstack builds the saved domain (its configuration was saved, and the host has libxl). */
    static boolean throughToolstack(Hypervisor hypervisor, Saved saved) {
        return saved.toolstackConfig() != null && hypervisor.capabilities().contains(Capability.STREAM_RESTORE);
    }

    /**
     * Restores as {@link #restore(Hypervisor, Ticker, RestoreRequest, FilePolicy)}, telling {@code progress} as
     * it goes; a cancel seen at a checkpoint or at the commit point leaves no domain. A domain whose toolstack
     * configuration was saved (PV and PVH guests on Xen with libxl), and every xl save file, is built by the host's
     * toolstack from the stream, as a migration's destination builds it; any other by the engine.
     */
    public static RestoreResult restore(Hypervisor hypervisor, Ticker ticker, RestoreRequest request, FilePolicy policy,
                                        Progress progress) throws EngineException {
        RestoreRequest req = new RestoreRequest(policy.forReading(request.file()), request.name(), request.paused(),
                request.newUuid());
        Saved saved = inspect(hypervisor, req);
        DomainShape shape = saved.shape();
        if (req.newUuid()) {
            shape = new DomainShape(shape.name(), UUID.randomUUID(), shape.p2mSize(), shape.vcpus(), shape.guestType(),
                    shape.guestWidth());
        } else {
            refuseRunningUuid(hypervisor, saved.uuid(), req);
        }
        long t0 = ticker.nanoTime();
        Domain domain = null;
        StreamRestore toolstack = null;
        try {
            if (hypervisor.findDomain(req.name()).isPresent()) {
                throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "a domain named " + req.name() + " exists");
            }
            IncomingStream stream;
            long streamStart = saved.xl() == null ? 0 : saved.xl().length();
            if (throughToolstack(hypervisor, saved)) {
                toolstack = hypervisor.restoreFromStream(req.name(), saved.uuid(), saved.toolstackConfig());
                ToolstackDestinationStream.Input input = saved.format() == MigrationOptions.StreamFormat.LEGACY
                        ? ToolstackDestinationStream.Input.LEGACY : saved.xl() != null
                        ? ToolstackDestinationStream.Input.V2_LIBXL : ToolstackDestinationStream.Input.V2_LIBXC;
                stream = shape == null ? ToolstackDestinationStream.ofFile(input, toolstack, saved.guestType())
                        : ToolstackDestinationStream.of(saved.format(), toolstack, shape, () -> { });
            } else {
                domain = hypervisor.createForRestore(shape);
                stream = DestinationStream.of(saved.format(), domain, shape, () -> { });
            }
            progress.stopped();
            long offset = feedFile(req, stream, streamStart, progress);
            if (stream instanceof DestinationStream d) {
                d.finish();
            }
            stream.completeRestore();
            if (stream instanceof ToolstackDestinationStream t) {
                domain = t.domain();
            }
            progress.commit();
            if (!req.paused()) {
                domain.resume();
            }
            LOG.info("event=restored domain={} file={} bytes={} paused={} built_by={}", req.name(), req.file(), offset,
                    req.paused(), toolstack == null ? "engine" : "toolstack");
            return new RestoreResult(req.name(), offset, req.paused(), Duration.ofNanos(ticker.nanoTime() - t0));
        } catch (EngineException e) {
            undoRestore(domain, toolstack, e.getMessage());
            throw e;
        } catch (MigrationAbort e) {
            undoRestore(domain, toolstack, e.getMessage());
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, "restore from " + req.file() + ": "
                    + e.getMessage() + "; no domain was left behind", e);
        } catch (IOException | HypervisorException | StreamException | RuntimeException e) {
            undoRestore(domain, toolstack, MigrationAbort.describe(e));
            throw new EngineException(e instanceof StreamException ? EngineException.Kind.INVALID_ARGUMENT
                    : EngineException.Kind.INTERNAL, "restore from " + req.file() + " failed: " + MigrationAbort.describe(e), e);
        }
    }

    /**
     * Feeds the file's stream, from {@code streamStart} (after an xl header), to {@code stream}; returns the file
     * offset reached. Bytes after the stream's end are refused.
     */
    private static long feedFile(RestoreRequest req, IncomingStream stream, long streamStart, Progress progress)
            throws IOException, StreamException, HypervisorException, MigrationAbort, EngineException {
        try (FileChannel ch = FileChannel.open(req.file(), StandardOpenOption.READ)) {
            ch.position(streamStart);
            ByteBuffer buf = ByteBuffer.allocateDirect(READ_CHUNK);
            while (ch.read(buf.clear()) >= 0) {
                progress.check();
                buf.flip();
                if (stream.complete() && buf.hasRemaining()) {
                    throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file()
                            + ": bytes after the end of the save stream at offset " + (streamStart + stream.offset()));
                }
                stream.feed(buf);
                if (buf.hasRemaining()) {
                    throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, req.file()
                            + ": bytes after the end of the save stream at offset " + (streamStart + stream.offset()));
                }
            }
        }
        return streamStart + stream.offset();
    }

    /** A failed restore leaves nothing: the toolstack's build is aborted, the engine's domain destroyed. */
    private static void undoRestore(Domain domain, StreamRestore toolstack, String reason) {
        if (toolstack != null) {
            try {
                toolstack.abort(reason); // destroys what libxl built, the finished domain included
            } catch (HypervisorException e) {
                LOG.error("event=cleanup_step_failed step=abort_toolstack_restore error=\"{}\"", e.getMessage());
            }
            return;
        }
        destroyQuietly(domain);
    }

    /** Two running copies of one guest (one UUID) is what a second restore of the same file would make. */
    public static void refuseRunningUuid(Hypervisor hypervisor, UUID uuid, RestoreRequest req) throws EngineException {
        if (uuid == null) {
            return; // an xl configuration without a UUID: libxl makes a new one
        }
        try {
            for (DomainInfo d : hypervisor.listDomains()) {
                if (d.uuid().equals(uuid)) {
                    throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "domain " + d.name() + " with UUID "
                            + uuid + " (the one saved in " + req.file() + ") exists here; restoring it again would "
                            + "run two copies of one guest (use --new-uuid to restore it as a new guest)");
                }
            }
        } catch (HypervisorException e) {
            throw new EngineException(EngineException.Kind.INTERNAL, "cannot list domains: " + e.getMessage(), e);
        }
    }

    private static void destroyQuietly(Domain d) {
        if (d == null) {
            return;
        }
        try {
            d.destroy();
        } catch (HypervisorException e) {
            LOG.error("event=cleanup_step_failed step=destroy_partial error=\"{}\"", e.getMessage());
        }
    }
}
