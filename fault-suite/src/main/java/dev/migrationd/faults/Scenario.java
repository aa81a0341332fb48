package dev.migrationd.faults;

/**
 * One fault scenario: a name to select it by, what it does, the failpoints each daemon starts with, and
 * its body, which drives a {@link ScenarioRun} and throws {@link ScenarioFailure} on the first check that
 * fails.
 *
 * @param name         unique, {@code group-...}; selected by name or glob on the command line
 * @param description  one line: the fault, where, and what must come of it
 * @param failpointsA  MIGRATIOND_FAILPOINTS for hostA (the source), or ""
 * @param failpointsB  MIGRATIOND_FAILPOINTS for hostB (the destination), or ""
 * @param body         the scenario
 */
record Scenario(String name, String description, String failpointsA, String failpointsB, Body body) {

    @FunctionalInterface
    interface Body {
        void run(ScenarioRun r) throws Exception;
    }

    Scenario(String name, String description, Body body) {
        this(name, description, "", "", body);
    }
}
