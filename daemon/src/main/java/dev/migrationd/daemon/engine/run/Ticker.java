package dev.migrationd.daemon.engine.run;

/** A monotonic nanosecond clock; tests substitute their own. */
@FunctionalInterface
public interface Ticker {
    Ticker SYSTEM = System::nanoTime;

    long nanoTime();
}
