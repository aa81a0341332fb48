package dev.migrationd.daemon.control;

import dev.migrationd.control.v1.CancelMigrationRequest;
import dev.migrationd.control.v1.CancelMigrationResponse;
import dev.migrationd.control.v1.CreateDomainRequest;
import dev.migrationd.control.v1.DestroyDomainRequest;
import dev.migrationd.control.v1.DestroyDomainResponse;
import dev.migrationd.control.v1.Domain;
import dev.migrationd.control.v1.DomainDetails;
import dev.migrationd.control.v1.GetMigrationRequest;
import dev.migrationd.control.v1.InspectDomainRequest;
import dev.migrationd.control.v1.ListDomainsRequest;
import dev.migrationd.control.v1.ListDomainsResponse;
import dev.migrationd.control.v1.ListMigrationsRequest;
import dev.migrationd.control.v1.ListMigrationsResponse;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.MigrationEvent;
import dev.migrationd.control.v1.MigrationServiceGrpc;
import dev.migrationd.control.v1.PhaseEvent;
import dev.migrationd.control.v1.ResolveMigrationRequest;
import dev.migrationd.control.v1.ResolveMigrationResponse;
import dev.migrationd.control.v1.RestoreDomainRequest;
import dev.migrationd.control.v1.RestoreDomainResponse;
import dev.migrationd.control.v1.SaveDomainRequest;
import dev.migrationd.control.v1.SaveDomainResponse;
import dev.migrationd.control.v1.StartMigrationRequest;
import dev.migrationd.control.v1.StartMigrationResponse;
import dev.migrationd.control.v1.WatchMigrationRequest;
import dev.migrationd.daemon.engine.MigrationEngine;
import dev.migrationd.daemon.engine.file.RestoreRequest;
import dev.migrationd.daemon.engine.file.RestoreResult;
import dev.migrationd.daemon.engine.file.SaveRequest;
import dev.migrationd.daemon.engine.file.SaveResult;
import dev.migrationd.daemon.engine.run.CancelOutcome;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationHandle;
import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.run.OperatorDecision;
import dev.migrationd.daemon.engine.run.Resolved;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.Hypervisor;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code dev.migrationd.v1.MigrationService} over one daemon's engine and hypervisor. Validation that
 * the engine does not do (names, enum values, ranges) happens here; every failure goes through
 * {@link Errors}, the one place that picks a status.
 *
 * <p>Threading: gRPC calls the methods on its executor threads, concurrently; the service holds no
 * mutable state of its own (the engine and the {@link EventHub} are thread-safe).
 */
public final class ControlService extends MigrationServiceGrpc.MigrationServiceImplBase {

    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);

    /** Default and largest {@code ListMigrations} page. */
    static final int DEFAULT_LIST_LIMIT = 100;
    static final int MAX_LIST_LIMIT = 1000;
    /** Longest accepted idempotency key, domain, peer or file path. */
    static final int MAX_NAME_LENGTH = MigrationRequest.MAX_NAME_LENGTH;
    static final int MAX_PATH_LENGTH = 4096;

    private final String hostName;
    private final MigrationEngine engine;
    private final Hypervisor hypervisor;
    private final Optional<SimDomains> sim;
    private final EventHub events;

    /**
     * @param hostName   this daemon's peer name (shown as source/destination host)
     * @param engine     the engine; the service registers its event hub as an observer
     * @param hypervisor the host's hypervisor, for ListDomains
     * @param sim        the sim backend's extra calls, when the backend is sim
     */
    public ControlService(String hostName, MigrationEngine engine, Hypervisor hypervisor, Optional<SimDomains> sim,
                          Clock clock) {
        this.hostName = Objects.requireNonNull(hostName, "hostName");
        this.engine = Objects.requireNonNull(engine, "engine");
        this.hypervisor = Objects.requireNonNull(hypervisor, "hypervisor");
        this.sim = Objects.requireNonNull(sim, "sim");
        this.events = new EventHub(clock);
        engine.addObserver(events);
    }

    // ---- migrations ----------------------------------------------------------------------------------

    @Override
    public void startMigration(StartMigrationRequest request, StreamObserver<StartMigrationResponse> observer) {
        Errors.unary("StartMigration", observer, () -> {
            String domain = name("domain", request.getDomain());
            String peer = name("destination", request.getDestination());
            if (peer.equals(hostName)) {
                throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "destination"),
                        "destination '" + peer + "' is this daemon; name a peer from its configuration");
            }
            String key = request.getIdempotencyKey().isEmpty() ? null : key(request.getIdempotencyKey());
            String nameThere = request.getDestinationName().isEmpty() ? null : name("destination_name", request.getDestinationName());
            MigrationRequest req = new MigrationRequest(MigrationRequest.newId(), key, domain, peer,
                    ProtoMapping.options(request.getOptions()), nameThere);
            MigrationHandle h = engine.start(req);
            boolean created = h.id().equals(req.id());
            if (!created && (!h.info().domain().equals(domain) || !h.info().peer().equals(peer))) {
                throw new ControlException(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", Map.of("migration", h.id()),
                        "idempotency key '" + key
                        + "' was used for migration " + h.id() + " of " + h.info().domain() + " to " + h.info().peer()
                        + "; use a new key for a different request");
            }
            LOG.atInfo().setMessage("event=migration_requested")
                    .addKeyValue("id", h.id())
                    .addKeyValue("domain", domain)
                    .addKeyValue("peer", peer)
                    .addKeyValue("created", created)
                    .addKeyValue("key", key).log();
            return StartMigrationResponse.newBuilder().setMigration(ProtoMapping.migration(hostName, h))
                    .setCreated(created).build();
        });
    }

    @Override
    public void getMigration(GetMigrationRequest request, StreamObserver<Migration> observer) {
        Errors.unary("GetMigration", observer, () -> {
            String id = name("id", request.getId());
            var live = engine.find(id);
            if (live.isPresent()) {
                return ProtoMapping.migration(hostName, live.get());
            }
            // a migration from before a restart (or one the engine resolved while recovering) is only in the history
            for (MigrationSummary s : engine.list()) {
                if (s.info().id().equals(id)) {
                    return ProtoMapping.migration(hostName, s);
                }
            }
            return ProtoMapping.migration(hostName, find(id));
        });
    }

    @Override
    public void watchMigration(WatchMigrationRequest request, StreamObserver<MigrationEvent> observer) {
        MigrationHandle h;
        try {
            h = find(request.getId());
        } catch (Exception e) {
            Errors.fail("WatchMigration", observer, e);
            return;
        }
        String id = h.id();
        ServerCallStreamObserver<MigrationEvent> call = (ServerCallStreamObserver<MigrationEvent>) observer;
        Consumer<MigrationEvent> watcher = new Consumer<>() {
            private boolean done; // guarded by the hub's lock: all calls come from EventHub under it

            @Override
            public void accept(MigrationEvent e) {
                if (done || call.isCancelled()) {
                    return;
                }
                observer.onNext(e);
                if (e.hasResult()) {
                    done = true;
                    observer.onCompleted();
                }
            }
        };
        call.setOnCancelHandler(() -> events.detach(id, watcher));
        if (events.attach(id, Optional.empty(), watcher)) {
            LOG.atDebug().setMessage("event=watch_attached")
                    .addKeyValue("id", id).log();
            return;
        }
        if (h.result().isDone()) {
            // finished long ago (or before a restart): its phase and result, from the engine
            Migration m = ProtoMapping.migration(hostName, h);
            observer.onNext(MigrationEvent.newBuilder().setMigrationId(id).setSequence(0)
                    .setPhase(PhaseEvent.newBuilder().setPhase(m.getPhase())).build());
            observer.onNext(MigrationEvent.newBuilder().setMigrationId(id).setSequence(1).setResult(m.getResult()).build());
            observer.onCompleted();
            return;
        }
        // live, and no event yet: start its feed with the current phase
        events.attach(id, Optional.of(MigrationEvent.newBuilder().setPhase(PhaseEvent.newBuilder()
                .setPhase(ProtoMapping.phase(h.phase())).setDetail(ProtoMapping.detail(h.phase())))), watcher);
        LOG.atDebug().setMessage("event=watch_attached")
                .addKeyValue("id", id).log();
    }

    @Override
    public void cancelMigration(CancelMigrationRequest request, StreamObserver<CancelMigrationResponse> observer) {
        Errors.unary("CancelMigration", observer, () -> {
            String id = name("id", request.getId());
            CancelOutcome outcome = engine.cancel(id);
            LOG.atInfo().setMessage("event=cancel_requested")
                    .addKeyValue("id", id)
                    .addKeyValue("outcome", outcome).log();
            return CancelMigrationResponse.newBuilder()
                    .setMigration(ProtoMapping.migration(hostName, find(id)))
                    .setResult(ProtoMapping.cancel(outcome)).build();
        });
    }

    @Override
    public void resolveMigration(ResolveMigrationRequest request, StreamObserver<ResolveMigrationResponse> observer) {
        Errors.unary("ResolveMigration", observer, () -> {
            String id = name("id", request.getId());
            OperatorDecision decision = switch (request.getDecision()) {
                case RESOLVE_DECISION_RESUME_SOURCE -> OperatorDecision.RESUME_SOURCE;
                case RESOLVE_DECISION_CONFIRM_DESTINATION -> OperatorDecision.CONFIRM_DESTINATION;
                default -> throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "decision"),
                        "decision: must be RESUME_SOURCE or CONFIRM_DESTINATION");
            };
            Resolved r = engine.resolve(id, decision);
            LOG.atWarn().setMessage("event=resolve_requested")
                    .addKeyValue("id", id)
                    .addKeyValue("decision", decision)
                    .addKeyValue("peer_answer", r.peerAnswer())
                    .addKeyValue("decided_by", r.decidedBy()).log();
            Migration m = engine.find(id).map(h -> ProtoMapping.migration(hostName, h))
                    .or(() -> engine.list().stream().filter(s -> s.info().id().equals(id)).findFirst()
                            .map(s -> ProtoMapping.migration(hostName, s)))
                    .orElseThrow(() -> new ControlException(Status.Code.NOT_FOUND, "MIGRATION_NOT_FOUND",
                            Map.of("migration", id), "no migration with id " + id + " on " + hostName));
            return ResolveMigrationResponse.newBuilder().setMigration(m).setPeerAnswer(r.peerAnswer())
                    .setDecidedBy(r.decidedBy()).build();
        });
    }

    @Override
    public void listMigrations(ListMigrationsRequest request, StreamObserver<ListMigrationsResponse> observer) {
        Errors.unary("ListMigrations", observer, () -> {
            int limit = request.getLimit() == 0 ? DEFAULT_LIST_LIMIT : request.getLimit();
            if (limit < 0 || limit > MAX_LIST_LIMIT) {
                throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "limit"),
                        "limit " + Integer.toUnsignedString(request.getLimit()) + ": must be 1.." + MAX_LIST_LIMIT);
            }
            ListMigrationsResponse.Builder b = ListMigrationsResponse.newBuilder();
            for (MigrationSummary s : engine.list().stream().limit(limit).toList()) {
                b.addMigrations(ProtoMapping.migration(hostName, s));
            }
            return b.build();
        });
    }

    private MigrationHandle find(String id) {
        String checked = name("id", id);
        return engine.find(checked).orElseThrow(() -> new ControlException(Status.Code.NOT_FOUND, "MIGRATION_NOT_FOUND",
                Map.of("migration", checked),
                "no migration with id " + checked + " on " + hostName + " (see ListMigrations)"));
    }

    // ---- domains -------------------------------------------------------------------------------------

    @Override
    public void listDomains(ListDomainsRequest request, StreamObserver<ListDomainsResponse> observer) {
        Errors.unary("ListDomains", observer, () -> {
            Set<String> migrating = migratingDomains();
            ListDomainsResponse.Builder b = ListDomainsResponse.newBuilder().setHost(hostName).setBackend(hypervisor.backend());
            for (DomainInfo d : listDomainsSnapshot()) {
                b.addDomains(ProtoMapping.domain(d, migrating.contains(d.name())));
            }
            return b.build();
        });
    }

    /** The host's domains (a domain whose destroy is under way is left out by the backend). */
    private List<DomainInfo> listDomainsSnapshot() throws Exception {
        return hypervisor.listDomains();
    }

    private Set<String> migratingDomains() {
        Set<String> names = new HashSet<>();
        for (MigrationSummary s : engine.list()) {
            if (!s.phase().terminal()) { // either direction: the source's domain, or the destination's copy being built
                names.add(s.info().domain());
            }
        }
        return names;
    }

    @Override
    public void saveDomain(SaveDomainRequest request, StreamObserver<SaveDomainResponse> observer) {
        Errors.unary("SaveDomain", observer, () -> {
            String domain = name("domain", request.getDomain());
            Path path = path(request.getPath());
            SaveResult r = engine.save(saveRequest(request, domain, path));
            LOG.atInfo().setMessage("event=domain_saved")
                    .addKeyValue("domain", domain)
                    .addKeyValue("file", r.file())
                    .addKeyValue("bytes", r.bytes())
                    .addKeyValue("rounds", r.rounds()).log();
            return SaveDomainResponse.newBuilder().setPath(r.file().toString()).setBytesWritten(r.bytes())
                    .setDuration(ProtoMapping.duration(r.downtime())).setRounds(r.rounds()).build();
        });
    }

    @Override
    public void restoreDomain(RestoreDomainRequest request, StreamObserver<RestoreDomainResponse> observer) {
        Errors.unary("RestoreDomain", observer, () -> {
            Path path = path(request.getPath());
            String name = name("name", request.getName());
            RestoreResult r = engine.restore(new RestoreRequest(path, name, request.getPaused(), request.getNewUuid()));
            LOG.atInfo().setMessage("event=domain_restored")
                    .addKeyValue("domain", r.domain())
                    .addKeyValue("file", path)
                    .addKeyValue("bytes", r.bytes())
                    .addKeyValue("paused", r.paused()).log();
            DomainInfo info = hypervisor.domain(r.domain()).info();
            return RestoreDomainResponse.newBuilder().setDomain(ProtoMapping.domain(info, false))
                    .setDuration(ProtoMapping.duration(r.time())).build();
        });
    }

    @Override
    public void startSave(SaveDomainRequest request, StreamObserver<StartMigrationResponse> observer) {
        Errors.unary("StartSave", observer, () -> {
            String domain = name("domain", request.getDomain());
            Path path = path(request.getPath());
            String key = request.getIdempotencyKey().isEmpty() ? null : key(request.getIdempotencyKey());
            String id = MigrationRequest.newId();
            MigrationHandle h = engine.startSave(saveRequest(request, domain, path), id, key);
            return started("StartSave", h, id, key, domain, path);
        });
    }

    @Override
    public void startRestore(RestoreDomainRequest request, StreamObserver<StartMigrationResponse> observer) {
        Errors.unary("StartRestore", observer, () -> {
            Path path = path(request.getPath());
            String name = name("name", request.getName());
            String key = request.getIdempotencyKey().isEmpty() ? null : key(request.getIdempotencyKey());
            String id = MigrationRequest.newId();
            MigrationHandle h = engine.startRestore(new RestoreRequest(path, name, request.getPaused(), request.getNewUuid()), id, key);
            return started("StartRestore", h, id, key, name, path);
        });
    }

    /**
     * The engine's save request; an xl file holds a v2 stream, so its unspecified format is v2 and a legacy one is
     * refused by name.
     */
    private static SaveRequest saveRequest(SaveDomainRequest request, String domain, Path path) {
        MigrationOptions.StreamFormat format = request.getXlFile()
                && request.getFormat() == dev.migrationd.control.v1.StreamFormat.STREAM_FORMAT_UNSPECIFIED
                ? MigrationOptions.StreamFormat.V2 : ProtoMapping.format(request.getFormat(), "format");
        if (request.getXlFile() && format != MigrationOptions.StreamFormat.V2) {
            throw new IllegalArgumentException("xl_file: an xl save file holds a v2 stream; format legacy cannot be used "
                    + "with it");
        }
        return new SaveRequest(domain, path, format, request.getLive(), request.getLeaveRunning(), request.getForce(),
                bandwidth(request), request.getXlFile());
    }

    private static long bandwidth(SaveDomainRequest request) {
        long cap = request.getBandwidthBytesPerSecond();
        if (cap < 0) { // a uint64 above Long.MAX_VALUE
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "bandwidth_bytes_per_second"),
                    "bandwidth_bytes_per_second " + Long.toUnsignedString(cap) + " is out of range");
        }
        return cap;
    }

    /** The answer to a started save or restore; a reused key must name the same domain and file. */
    private StartMigrationResponse started(String rpc, MigrationHandle h, String id, String key, String domain, Path path) {
        boolean created = h.id().equals(id);
        if (!created && !(h.info().domain().equals(domain) && h.info().peer().equals(path.toString()))) {
            throw new ControlException(Status.Code.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED", Map.of("migration", h.id()),
                    "idempotency key '" + key + "' was used for " + h.id() + " (" + h.info().domain() + ", "
                    + h.info().peer() + "); use a new key for a different request");
        }
        LOG.atInfo().setMessage("event=file_operation_requested")
                .addKeyValue("rpc", rpc)
                .addKeyValue("id", h.id())
                .addKeyValue("domain", domain)
                .addKeyValue("file", path)
                .addKeyValue("created", created).log();
        return StartMigrationResponse.newBuilder().setMigration(ProtoMapping.migration(hostName, h))
                .setCreated(created).build();
    }

    // ---- sim only ------------------------------------------------------------------------------------

    private SimDomains sim(String rpc) {
        return sim.orElseThrow(() -> new ControlException(Status.Code.UNIMPLEMENTED, "SIM_BACKEND_ONLY",
                Map.of("backend", hypervisor.backend()), rpc
                + " is only offered by the sim backend; this daemon (" + hostName + ") runs the "
                + hypervisor.backend() + " backend, where domains are managed with the hypervisor's own tools"));
    }

    @Override
    public void createDomain(CreateDomainRequest request, StreamObserver<Domain> observer) {
        Errors.unary("CreateDomain", observer, () -> {
            SimDomains s = sim("CreateDomain");
            String name = name("name", request.getName());
            if (hypervisor.findDomain(name).isPresent()) {
                throw new ControlException(Status.Code.ALREADY_EXISTS, "DOMAIN_EXISTS", Map.of("domain", name),
                        "a domain named " + name + " exists on " + hostName);
            }
            DomainInfo d = s.create(request);
            LOG.atInfo().setMessage("event=domain_created")
                    .addKeyValue("domain", d.name())
                    .addKeyValue("memory_bytes", request.getMemoryBytes())
                    .addKeyValue("vcpus", d.vcpus())
                    .addKeyValue("type", d.guestType()).log();
            return ProtoMapping.domain(d, false);
        });
    }

    @Override
    public void destroyDomain(DestroyDomainRequest request, StreamObserver<DestroyDomainResponse> observer) {
        Errors.unary("DestroyDomain", observer, () -> {
            SimDomains s = sim("DestroyDomain");
            String name = existing(name("name", request.getName()));
            if (migratingDomains().contains(name)) {
                throw new ControlException(Status.Code.FAILED_PRECONDITION, "DOMAIN_BUSY", Map.of("domain", name),
                        "domain " + name + " is migrating; cancel the migration first");
            }
            s.destroy(name);
            LOG.atInfo().setMessage("event=domain_destroyed")
                    .addKeyValue("domain", name).log();
            return DestroyDomainResponse.getDefaultInstance();
        });
    }

    @Override
    public void inspectDomain(InspectDomainRequest request, StreamObserver<DomainDetails> observer) {
        Errors.unary("InspectDomain", observer, () -> {
            SimDomains s = sim("InspectDomain");
            String name = existing(name("name", request.getName()));
            // inspecting pauses the domain for a stable reading: the engine holds the domain meanwhile, so no
            // migration (or save) can start under it, and none may be running
            try {
                return engine.withDomainExclusive(name, "inspect", () -> {
                    DomainInfo info = hypervisor.domain(name).info();
                    return s.inspect(name).toBuilder().setDomain(ProtoMapping.domain(info, false)).build();
                });
            } catch (EngineException.DomainBusyException e) {
                throw new ControlException(Status.Code.FAILED_PRECONDITION, "DOMAIN_BUSY",
                        Map.of("domain", name, "migration", e.migrationId()), "domain " + name
                        + " is migrating (" + e.migrationId() + "); inspect it when the migration has ended");
            }
        });
    }

    private String existing(String name) throws Exception {
        if (hypervisor.findDomain(name).isEmpty()) {
            throw new ControlException(Status.Code.NOT_FOUND, "DOMAIN_NOT_FOUND", Map.of("domain", name),
                    "no domain named " + name + " on " + hostName);
        }
        return name;
    }

    // ---- validation ----------------------------------------------------------------------------------

    private static String name(String field, String value) {
        if (value.isEmpty()) {
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", field), field + " is required");
        }
        if (value.length() > MAX_NAME_LENGTH || !value.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", field),
                    field + " must be 1.." + MAX_NAME_LENGTH
                    + " printable ASCII characters without spaces");
        }
        return value;
    }

    private static String key(String value) {
        return name("idempotency_key", value);
    }

    private static Path path(String value) {
        if (value.isEmpty()) {
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "path"), "path is required");
        }
        if (value.length() > MAX_PATH_LENGTH || value.indexOf('\0') >= 0) {
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "path"),
                    "path is too long or contains a NUL byte");
        }
        Path p = Path.of(value);
        if (!p.isAbsolute()) {
            throw new ControlException(Status.Code.INVALID_ARGUMENT, "INVALID_FIELD", Map.of("field", "path"),
                    "path '" + value + "' must be absolute (it is a path on the daemon's host)");
        }
        return p.normalize();
    }

    /** For tests: the hub's watcher count of a migration. */
    int watchers(String id) {
        return events.watchers(id);
    }

    /** The migrations this host knows, for the daemon's shutdown log. */
    List<MigrationSummary> migrations() {
        return engine.list();
    }
}
