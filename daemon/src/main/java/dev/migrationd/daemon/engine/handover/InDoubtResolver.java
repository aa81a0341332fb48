package dev.migrationd.daemon.engine.handover;

import dev.migrationd.daemon.engine.peer.HandoverMessage;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.run.EngineException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves a migration whose Go was sent but whose Running was not heard: reconnects to the
 * destination (retrying every {@link HandoverSettings#inDoubtRetry()}) and asks it about the migration
 * id; the destination answers from its journal. Runs on the migration's (or recovery's) virtual
 * thread; stops retrying only when the engine closes.
 */
public final class InDoubtResolver {

    private static final Logger LOG = LoggerFactory.getLogger(InDoubtResolver.class);

    private InDoubtResolver() {
    }

    public static OutgoingMigration.Resolution resolve(HandoverContext engine, String id, String peer) {
        HandoverSettings cfg = engine.settings();
        for (int attempt = 1; !engine.closing(); attempt++) {
            try (PeerConnection c = cfg.peers().connect(peer)) {
                c.send(new HandoverMessage.Query(id));
                PeerConnection.Inbound in = c.receive(cfg.handshakeTimeout());
                if (in instanceof PeerConnection.Message m && m.message() instanceof HandoverMessage.QueryAnswer a
                        && a.migrationId().equals(id)) {
                    LOG.info("event=in_doubt_resolved migration={} peer={} answer={} attempt={}", id, peer, a.resolution(), attempt);
                    return a.resolution() == HandoverMessage.Resolution.COMMITTED
                            ? OutgoingMigration.Resolution.COMMITTED : OutgoingMigration.Resolution.NOT_COMMITTED;
                }
                if (in instanceof PeerConnection.StreamData d) {
                    d.release();
                }
                LOG.warn("event=in_doubt_bad_answer migration={} peer={} attempt={}", id, peer, attempt);
            } catch (java.io.IOException | TimeoutException | EngineException e) {
                LOG.warn("event=in_doubt_retry migration={} peer={} attempt={} error=\"{}\"", id, peer, attempt,
                        OutgoingMigration.describe(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return OutgoingMigration.Resolution.GAVE_UP;
            }
            sleep(cfg.inDoubtRetry());
        }
        return OutgoingMigration.Resolution.GAVE_UP;
    }

    private static void sleep(Duration d) {
        LockSupport.parkNanos(d.toNanos());
    }
}
