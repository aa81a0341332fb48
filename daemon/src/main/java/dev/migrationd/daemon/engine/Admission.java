package dev.migrationd.daemon.engine;

import dev.migrationd.daemon.engine.handover.HandoverContext;
import dev.migrationd.daemon.engine.handover.IncomingMigration;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
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
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a migration may start, before anything is changed or allocated. Outgoing: options in
 * range, the peer configured, the id unused, the domain free (claimed for the migration) and present.
 * Incoming: the engine open, the peer configured, a backend that can build domains, an id never seen, no
 * domain of that name here and none arriving, and the guest's memory within the admission limit
 * ({@link EngineConfig#maxIncomingBytes()}); a refused offer is answered with Reject. Admitted migrations
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
    /** Guest memory of the incoming migrations admitted and not ended. */
    private final AtomicLong incomingBytes = new AtomicLong();

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
     * Checks an offer before any page moves. Admitted: the incoming run, live in the registry, holding the
     * domain name and the memory, not started. Refused: Reject is sent, the connection closed, and the
     * result is empty.
     */
    Optional<IncomingMigration> incoming(PeerConnection connection, HandoverMessage.Offer offer, HandoverContext context)
            throws IOException {
        String id = offer.migrationId();
        String refusal = refusal(offer, context.closing());
        if (refusal == null && !registry.tryClaim(offer.shape().name(), id)) {
            refusal = "domain " + offer.shape().name() + " is being migrated or restored here already";
        }
        if (refusal == null) {
            long want = offer.shape().memoryBytes();
            if (incomingBytes.addAndGet(want) > config.maxIncomingBytes()) {
                incomingBytes.addAndGet(-want);
                registry.release(offer.shape().name(), id);
                refusal = "not enough memory admitted for incoming guests (" + want + " bytes asked, limit "
                        + config.maxIncomingBytes() + ")";
            }
        }
        if (refusal != null) {
            LOG.warn("event=offer_rejected migration={} peer={} domain={} reason=\"{}\"", id, offer.sourcePeer(),
                    offer.shape().name(), refusal);
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
        LOG.info("event=offer_accepted migration={} peer={} domain={} guest={} p2m_size={} vcpus={}", id,
                offer.sourcePeer(), info.domain(), offer.shape().guestType(), offer.shape().p2mSize(), offer.shape().vcpus());
        return Optional.of(run);
    }

    private String refusal(HandoverMessage.Offer offer, boolean closing) {
        if (closing) {
            return "daemon is shutting down";
        }
        if (!config.peers().knows(offer.sourcePeer())) {
            return "unknown peer '" + offer.sourcePeer() + "'";
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

    /** An incoming migration ended: its memory is free for the next offer. */
    void released(IncomingMigration run) {
        incomingBytes.addAndGet(-run.offerBytes());
    }
}
