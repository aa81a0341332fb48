package dev.migrationd.faults;

import java.util.ArrayList;
import java.util.List;

/**
 * What happened in a scenario, in order: daemon starts, kills, stops, disk modes, the fault firing. Times
 * are {@link System#nanoTime()}. The checker uses it to know which periods a fault held the guest (a
 * daemon stopped or dead: no copy can run until it is back).
 *
 * <p>Thread-safe: marks come from the runner and from proxy threads.
 */
final class Timeline {

    record Mark(long nanos, String what) {
    }

    /** A period during which a fault kept a daemon (and so, possibly, the only copy) from running. */
    record Hold(long from, long to, String what) {
        boolean covers(long t) {
            return t >= from && t <= to;
        }
    }

    private final long origin = System.nanoTime();
    private final List<Mark> marks = new ArrayList<>();
    private final List<Hold> holds = new ArrayList<>();

    synchronized void mark(String what) {
        marks.add(new Mark(System.nanoTime(), what));
    }

    synchronized void hold(long from, long to, String what) {
        holds.add(new Hold(from, to, what));
    }

    synchronized List<Hold> holds() {
        return List.copyOf(holds);
    }

    synchronized List<Mark> marks() {
        return List.copyOf(marks);
    }

    long origin() {
        return origin;
    }

    /** Seconds since the scenario began, for reports. */
    String at(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.3fs", (nanos - origin) / 1e9);
    }

    synchronized String describe() {
        StringBuilder sb = new StringBuilder();
        for (Mark m : marks) {
            sb.append("  ").append(at(m.nanos())).append(' ').append(m.what()).append('\n');
        }
        return sb.toString();
    }
}
