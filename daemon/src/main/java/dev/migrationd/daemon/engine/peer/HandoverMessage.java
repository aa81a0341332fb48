package dev.migrationd.daemon.engine.peer;

import dev.migrationd.daemon.engine.run.MigrationOptions;
import dev.migrationd.daemon.engine.run.StreamCodec;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.ToolstackConfig;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The messages around the save stream (the hand-over's six steps, docs/handover.md), as the engine sees them.
 * The transport maps them to and from the protobuf envelope ({@code peer.proto}); the engine never sees
 * protobuf. Nothing here travels inside the save stream.
 */
public sealed interface HandoverMessage {

    /**
     * Step 1: source → destination, before any page.
     *
     * @param toolstackConfig the guest's configuration as the source's toolstack keeps it, when the source has
     *                        one (Xen PVH: libxl's JSON); a destination that builds guests through its toolstack
     *                        needs it
     * @param compression     the codecs the source can compress the stream with, most preferred first (never
     *                        {@link StreamCodec#NONE}); empty: plain frames only, as from a peer that predates them
     */
    record Offer(String migrationId, String sourcePeer, DomainShape shape, MigrationOptions options,
                 Optional<ToolstackConfig> toolstackConfig, List<StreamCodec> compression) implements HandoverMessage {
        public Offer {
            Objects.requireNonNull(migrationId, "migrationId");
            Objects.requireNonNull(sourcePeer, "sourcePeer");
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(options, "options");
            Objects.requireNonNull(toolstackConfig, "toolstackConfig");
            compression = List.copyOf(compression);
            if (compression.contains(StreamCodec.NONE)) {
                throw new IllegalArgumentException("an offer lists real codecs; none is always possible");
            }
        }

        /** An offer without compression. */
        public Offer(String migrationId, String sourcePeer, DomainShape shape, MigrationOptions options,
                     Optional<ToolstackConfig> toolstackConfig) {
            this(migrationId, sourcePeer, shape, options, toolstackConfig, List.of());
        }

        /** An offer without a toolstack configuration or compression. */
        public Offer(String migrationId, String sourcePeer, DomainShape shape, MigrationOptions options) {
            this(migrationId, sourcePeer, shape, options, Optional.empty(), List.of());
        }
    }

    /**
     * Step 2: the destination accepts; the stream may start.
     *
     * @param compression      the codec the destination picked from the offer's, {@link StreamCodec#NONE} for plain
     *                         frames (and from a peer that predates compression)
     * @param zeroedAllocation the destination promises that a page it allocates without data (an XALLOC entry)
     *                         reads as zero ({@code Capability.ZEROED_ALLOCATION}), so the source may send
     *                         all-zero pages of its first round that way; false: every page carries its data
     */
    record Accept(String migrationId, StreamCodec compression, boolean zeroedAllocation) implements HandoverMessage {
        public Accept {
            Objects.requireNonNull(compression, "compression");
        }

        /** An Accept of plain frames, without the zeroed-allocation promise. */
        public Accept(String migrationId) {
            this(migrationId, StreamCodec.NONE, false);
        }

        /** An Accept of {@code compression}, without the zeroed-allocation promise. */
        public Accept(String migrationId, StreamCodec compression) {
            this(migrationId, compression, false);
        }
    }

    /** Step 2: the destination refuses (name clash, memory, unknown peer, busy). */
    record Reject(String migrationId, String reason) implements HandoverMessage {
    }

    /** Source → destination after the last stream byte: the total, checked by the receiver. */
    record StreamEnd(String migrationId, long streamBytes) implements HandoverMessage {
    }

    /** Step 4: the new domain is fully built and paused. */
    record Received(String migrationId) implements HandoverMessage {
    }

    /** Step 4: the destination failed to build the domain (it destroyed what it built). */
    record Failed(String migrationId, String reason) implements HandoverMessage {
    }

    /** Source → destination: the source gives up before Go (cancel, error); the destination destroys its copy. */
    record Abort(String migrationId, String reason) implements HandoverMessage {
    }

    /**
     * Source → destination after the last pre-copy round, before the pause: the destination answers
     * {@link Flushed} once it has applied every stream byte sent before this message, so that the guest's
     * downtime never includes draining a backlog (socket buffers plus the receive window: tens of MiB).
     */
    record Flush(String migrationId) implements HandoverMessage {
    }

    /** The destination's answer to {@link Flush}. */
    record Flushed(String migrationId) implements HandoverMessage {
    }

    /** Step 5: the commit point. */
    record Go(String migrationId) implements HandoverMessage {
    }

    /**
     * Step 6: the destination journaled COMMITTED and unpaused the guest.
     *
     * @param destinationDowntime the guest's downtime as the destination measured it (empty from a peer
     *                            that does not report it)
     */
    record Running(String migrationId, java.util.Optional<java.time.Duration> destinationDowntime)
            implements HandoverMessage {
        public Running {
            java.util.Objects.requireNonNull(destinationDowntime, "destinationDowntime");
        }
    }

    /** In-doubt resolution: the source asks what the destination knows of a migration. */
    record Query(String migrationId) implements HandoverMessage {
    }

    /** The destination's answer to {@link Query}, from its journal. */
    record QueryAnswer(String migrationId, Resolution resolution) implements HandoverMessage {
    }

    /** What the destination has made durable about a migration (docs/handover.md §6). */
    enum Resolution {
        /** COMMITTED is durable: the guest runs (or is to run) on the destination. */
        COMMITTED,
        /**
         * The destination will never commit: it never received Go and its copy is gone, or it received Go and
         * durably recorded that it destroyed its copy. The only answer on which a source resumes its guest.
         */
        NOT_COMMITTED,
        /** The destination has no record of the migration (a lost journal?): an operator decides. */
        UNKNOWN,
        /** The destination is still deciding, or its decision is not durable yet: ask again. */
        PENDING
    }

    /** The migration id the message belongs to. */
    default String id() {
        return switch (this) {
            case Offer o -> o.migrationId();
            case Accept a -> a.migrationId();
            case Reject r -> r.migrationId();
            case StreamEnd e -> e.migrationId();
            case Received r -> r.migrationId();
            case Failed f -> f.migrationId();
            case Abort a -> a.migrationId();
            case Go g -> g.migrationId();
            case Flush f -> f.migrationId();
            case Flushed f -> f.migrationId();
            case Running r -> r.migrationId();
            case Query q -> q.migrationId();
            case QueryAnswer q -> q.migrationId();
        };
    }
}
