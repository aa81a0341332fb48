package dev.migrationd.faults;

import dev.migrationd.faults.FaultProxy.Dir;
import dev.migrationd.faults.FaultProxy.Match;

/**
 * The hand-over steps a fault can be aimed at, each recognised by the proxy from the frames it sees
 * (docs/handover.md §1): the message, and which way it travels. A fault "at" a step acts when that frame
 * reaches the proxy: before the frame goes on (it is then forwarded, dropped or held as the fault says).
 */
enum Step {
    /** The source's Offer, on its way to the destination (the source journaled STARTED). */
    OFFER("offer", FaultProxy.envelope(Dir.TO_DESTINATION, "OFFER")),
    /** The destination's Accept, on its way to the source (the destination journaled ACCEPTED and built the domain). */
    ACCEPT("accept", FaultProxy.envelope(Dir.TO_SOURCE, "ACCEPT")),
    /** Round 0 of pre-copy, a quarter of the guest's memory sent. */
    PRECOPY("precopy", FaultProxy.streamBytes(ScenarioRun.PRECOPY_MARK)),
    /** The destination's Flushed (every byte before Flush applied), on its way to the source. */
    FLUSH("flushed", FaultProxy.envelope(Dir.TO_SOURCE, "FLUSHED")),
    /** The first bytes of the final round: the source has paused the guest. */
    FINAL("final-round", FaultProxy.finalRound()),
    /** The destination's Received (domain complete, paused), on its way to the source. */
    RECEIVED("received", FaultProxy.envelope(Dir.TO_SOURCE, "RECEIVED")),
    /** The source's Go (it journaled COMMITTING: the commit point), on its way to the destination. */
    GO("go", FaultProxy.envelope(Dir.TO_DESTINATION, "GO")),
    /** The destination's Running (it journaled COMMITTED and unpaused), on its way to the source. */
    RUNNING("running", FaultProxy.envelope(Dir.TO_SOURCE, "RUNNING"));

    final String label;
    final Match match;

    Step(String label, Match match) {
        this.label = label;
        this.match = match;
    }

    /** Whether the step's frame travels towards the destination. */
    boolean toDestination() {
        return this == OFFER || this == PRECOPY || this == FINAL || this == GO;
    }
}
