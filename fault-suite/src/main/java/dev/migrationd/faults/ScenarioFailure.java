package dev.migrationd.faults;

/** A scenario's check failed; the message says what was expected and what was seen. */
final class ScenarioFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ScenarioFailure(String message) {
        super(message);
    }
}
