package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerCredentials;
import dev.migrationd.daemon.engine.peer.PeerPermission;
import dev.migrationd.daemon.engine.run.IncomingLimits;
import dev.migrationd.daemon.engine.run.Direction;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationInfo;
import dev.migrationd.daemon.engine.run.MigrationRequest;
import dev.migrationd.hypervisor.Capability;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.HypervisorException;
import java.io.IOException;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a migration may start, before anything is changed or allocated. Outgoing: options in
 * range, the peer configured, the id unused, the domain free (claimed for the migration) and present.
 * Incoming: the engine open; the claimed source a configured peer that the connection's certificate
 * names and that may send migrations here; the offer within {@link IncomingLimits} (memory of one
 * offer, bandwidth cap not below the minimum rate); a backend that can build domains; an id never seen;
 * no domain of that name here and none arriving; a place among the incoming migrations; the guest's
 * memory within the total ({@link EngineConfig#maxIncomingBytes()}) and the backend's free space. A
 * refused offer is answered with Reject naming the reason or the limit. Admitted migrations
 * hold their domain name, and incoming ones their memory, until they end ({@link #released}).
 *
 * <p>Threading: safe from any thread; the memory admitted is an atomic counter, domain names are claimed
 * in the registry.
 */
final class Admission {

    private static final Logger LOG = LoggerFactory.getLogger(Admission.class);

    private final EngineConfig config;
    private final MigrationRegistry registry;
    private final Journal journal;
    /** Guest memory of the incoming migrations admitted and not ended (changed under this object's lock). */
    private final AtomicLong incomingBytes = new AtomicLong();
    /** Incoming migrations admitted and not ended; guarded by this object's lock. */
    private int incomingCount;

    Admission(EngineConfig config, MigrationRegistry registry, Journal journal) {
        this.config = config;
        this.registry = registry;
        this.journal = journal;
    }

    /**
     * Admits an outgoing migration: the new run, holding its domain, neither registered nor started.
     *
     * @throws EngineException why not (see {@link MigrationEngine#start})
     */
    OutgoingMigration outgoing(MigrationRequest request, HandoverContext context) throws EngineException {
        String problem = request.options().problem();
        if (problem != null) {
            throw new EngineException(EngineException.Kind.INVALID_ARGUMENT, "invalid option: " + problem);
        }
        if (!config.peers().knows(request.peer())) {
            throw new EngineException.UnknownPeerException(request.peer());
        }
        if (registry.knows(request.id())) {
            throw new EngineException(EngineException.Kind.ALREADY_EXISTS, "migration id " + request.id() + " is taken");
        }
        String unusable = journalRefusal(context);
        if (unusable != null) {
            throw new EngineException(EngineException.Kind.FAILED_PRECONDITION, unusable);
        }
        registry.claim(request.domain(), request.id());
        try {
            Domain domain = config.hypervisor().findDomain(request.domain()).orElseThrow(
                    () -> new EngineException(EngineException.Kind.NOT_FOUND, "no domain named " + request.domain()));
            DomainInfo di = domain.info();
            MigrationInfo info = new MigrationInfo(request.id(), request.idempotencyKey(), request.domain(), request.peer(),
                    Direction.OUTGOING, di.guestType(), request.options(), config.clock().instant());
            return new OutgoingMigration(context, info, domain, di, request.nameThere());
        } catch (HypervisorException e) {
            registry.release(request.domain(), request.id());
            throw new EngineException(EngineException.Kind.INTERNAL, e.getMessage(), e);
        } catch (EngineException | RuntimeException e) {
            registry.release(request.domain(), request.id());
            throw e;
        }
    }

    /**
     * Checks an offer before any page moves, and before anything is journaled or allocated. Admitted: the
     * incoming run, live in the registry, holding the domain name, its memory and a place among the
     * incoming migrations, not started. Refused: Reject (naming the reason or the limit) is sent, the
     * refusal is logged with the peer's identity, the connection closed, and the result is empty.
     */
    Optional<IncomingMigration> incoming(PeerConnection connection, HandoverMessage.Offer offer, HandoverContext context)
            throws IOException {
        String id = offer.migrationId();
        String refusal = context.closing() ? "daemon is shutting down" : identityRefusal(connection.credentials(), offer);
        if (refusal == null) {
            refusal = refusal(offer);
        }
        if (refusal == null) {
            refusal = journalRefusal(context);
        }
        if (refusal == null && !registry.tryClaim(offer.shape().name(), id)) {
            refusal = "domain " + offer.shape().name() + " is being migrated or restored here already";
        }
        if (refusal == null) {
            refusal = reserve(offer);
            if (refusal != null) {
                registry.release(offer.shape().name(), id);
            }
        }
        if (refusal != null) {
            LOG.warn("event=offer_rejected migration={} peer={} identity=\"{}\" remote={} domain={} reason=\"{}\"", id,
                    offer.sourcePeer(), connection.credentials().describe(), connection.peerName(), offer.shape().name(), refusal);
            connection.send(new HandoverMessage.Reject(id, refusal));
            connection.drain();
            connection.close();
            return Optional.empty();
        }
        MigrationInfo info = new MigrationInfo(id, null, offer.shape().name(), offer.sourcePeer(), Direction.INCOMING,
                offer.shape().guestType(), offer.options(), config.clock().instant());
        String buildName = sameHost(offer) ? incomingName(offer.shape().name()) : offer.shape().name();
        IncomingMigration run = new IncomingMigration(context, info, connection, offer, buildName);
        registry.add(run);
        LOG.info("event=offer_accepted migration={} peer={} identity=\"{}\" domain={} guest={} p2m_size={} vcpus={}", id,
                offer.sourcePeer(), connection.credentials().describe(), info.domain(), offer.shape().guestType(),
                offer.shape().p2mSize(), offer.shape().vcpus());
        return Optional.of(run);
    }

    /**
     * Who is asking, and may they: the source the offer claims must be a configured peer, the connection's
     * certificate must name it (never the claim alone), and the configuration must let it send migrations.
     */
    private String identityRefusal(PeerCredentials credentials, HandoverMessage.Offer offer) {
        String claimed = offer.sourcePeer();
        if (!credentials.mayClaim(claimed)) {
            return "the offer claims to come from " + claimed + " but the peer's " + credentials.describe();
        }
        if (!config.peers().knows(claimed)) {
            return "unknown peer '" + claimed + "'";
        }
        if (!config.peers().allows(claimed, PeerPermission.MIGRATE)) {
            return "peer " + claimed + " is not authorised to send migrations here (peer." + claimed + ".allow has no "
                    + PeerPermission.MIGRATE.word() + ")";
        }
        return null;
    }

    /**
     * Whether a Query on this connection may be answered: on a TLS link the certificate must name a
     * configured peer allowed to query; on a plaintext link anyone may (that is what insecure means).
     *
     * @return null when it may, else why not
     */
    String queryRefusal(PeerCredentials credentials) {
        if (!credentials.authenticated()) {
            return null;
        }
        for (String name : credentials.names()) {
            if (config.peers().knows(name) && config.peers().allows(name, PeerPermission.QUERY)) {
                return null;
            }
        }
        return "no peer named in the certificate (" + String.join(",", credentials.names()) + ") may query here (peer.NAME.allow "
                + "has no " + PeerPermission.QUERY.word() + ")";
    }

    private String refusal(HandoverMessage.Offer offer) {
        IncomingLimits limits = config.incomingLimits();
        long want = offer.shape().memoryBytes();
        if (want > limits.maxOfferBytes()) {
            return "the guest's memory (" + want + " bytes) is over this daemon's limit for one migration (max-offer-memory "
                    + limits.maxOfferBytes() + " bytes)";
        }
        long cap = offer.options().bandwidthCap();
        if (cap > 0 && cap < limits.minBytesPerSecond()) {
            return "the offer's bandwidth cap (" + cap + " bytes/s) is below this daemon's minimum incoming rate "
                    + "(incoming-min-rate " + limits.minBytesPerSecond() + " bytes/s)";
        }
        if (!config.hypervisor().capabilities().contains(Capability.RESTORE)) {
            return "backend " + config.hypervisor().backend() + " cannot build domains (no RESTORE capability)";
        }
        if (registry.live(offer.migrationId()).isPresent()
                || journal.lastState(Journal.Role.DESTINATION, offer.migrationId()).isPresent()) {
            return "migration id " + offer.migrationId() + " was seen before";
        }
        try {
            String name = offer.shape().name();
            Optional<Domain> there = config.hypervisor().findDomain(name);
            if (there.isPresent() && !sameHost(offer)) {
                return there.get().info().uuid().equals(offer.shape().uuid())
                        ? "a domain named " + name + " exists here and is this very guest (a migration within one host), but "
                        + "backend " + config.hypervisor().backend() + " cannot rename domains, which that needs"
                        : "a domain named " + name + " exists here (another guest, UUID " + there.get().info().uuid() + ")";
            }
            if (config.hypervisor().findDomain(incomingName(name)).isPresent()) {
                return "a domain named " + incomingName(name) + " exists here (an incoming migration's leftover?)";
            }
        } catch (HypervisorException e) {
            return "cannot list domains: " + e.getMessage();
        }
        return null;
    }

    /**
     * Whether the offered guest is already on this host under its name: the same UUID, on a backend that can
     * rename. That is a migration between two daemons of one host (how operators test, how one-host upgrades
     * work): the copy is built under {@link #incomingName} and renamed at the commit point, once the source
     * has renamed its own copy away, as {@code xl migrate} to localhost does.
     */
    private boolean sameHost(HandoverMessage.Offer offer) {
        if (!config.hypervisor().capabilities().contains(Capability.RENAME)) {
            return false;
        }
        try {
            Optional<Domain> there = config.hypervisor().findDomain(offer.shape().name());
            return there.isPresent() && there.get().info().uuid().equals(offer.shape().uuid());
        } catch (HypervisorException e) {
            return false;
        }
    }

    /** The temporary name of a domain arriving on a host where its name is still taken: {@code NAME--incoming}. */
    static String incomingName(String name) {
        return name + IncomingMigration.INCOMING_SUFFIX;
    }

    /**
     * Null when the journal takes appends (repairing it first if a write had failed), else why not: a
     * migration that cannot journal its steps must not start.
     */
    private String journalRefusal(HandoverContext context) {
        if (context.repairJournal()) {
            return null;
        }
        return "the journal is unusable since a failed write (" + journal.failure().map(Exception::getMessage).orElse("?")
                + "): free space on or repair the state directory's disk; the next request tries again";
    }

    /**
     * Reserves a place among the incoming migrations and the guest's memory (against the total, and
     * against the free space of a backend whose guest memory is on disk), or says which limit refuses.
     * Reserved together under this object's lock, so two offers cannot both take the last place.
     */
    private synchronized String reserve(HandoverMessage.Offer offer) {
        IncomingLimits limits = config.incomingLimits();
        long want = offer.shape().memoryBytes();
        if (incomingCount >= limits.maxMigrations()) {
            return "too many incoming migrations (" + incomingCount + " running, max-incoming-migrations "
                    + limits.maxMigrations() + ")";
        }
        long admitted = incomingBytes.get();
        if (admitted + want > config.maxIncomingBytes()) {
            return "not enough memory admitted for incoming guests (" + want + " bytes asked, " + admitted
                    + " already admitted, max-incoming-memory " + config.maxIncomingBytes() + " bytes)";
        }
        OptionalLong free;
        try {
            free = config.hypervisor().freeSpaceForRestore();
        } catch (HypervisorException e) {
            return "cannot check free space: " + e.getMessage();
        }
        if (free.isPresent() && admitted + want > free.getAsLong()) {
            return "not enough free space for the guest's memory (" + want + " bytes asked, " + admitted
                    + " already admitted, " + free.getAsLong() + " bytes free on the " + config.hypervisor().backend()
                    + " backend's disk)";
        }
        incomingCount++;
        incomingBytes.addAndGet(want);
        return null;
    }

    /** An incoming migration ended: its memory is free for the next offer. */
    synchronized void released(IncomingMigration run) {
        incomingBytes.addAndGet(-run.offerBytes());
        incomingCount--;
    }
}
