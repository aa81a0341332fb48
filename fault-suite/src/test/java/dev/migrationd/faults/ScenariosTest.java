package dev.migrationd.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The catalogue: every step × every matrix fault is there, names are unique, selection by glob works. */
class ScenariosTest {

    @Test
    void everyStepMeetsEveryFaultAndACancel() {
        Set<String> names = new HashSet<>();
        for (Scenario s : Scenarios.all()) {
            assertTrue(names.add(s.name()), "duplicate scenario " + s.name());
        }
        for (Step step : Step.values()) {
            for (Scenarios.Fault f : Scenarios.Fault.values()) {
                assertTrue(names.contains(f.prefix + "-" + step.label), f.prefix + "-" + step.label);
            }
            assertTrue(names.contains("cancel-" + step.label), "cancel-" + step.label);
        }
        assertTrue(names.size() >= 40, "at least 40 scenarios, not " + names.size());
    }

    @Test
    void globsSelectInCatalogueOrder() {
        List<Scenario> all = Scenarios.all();
        List<String> picked = FaultSuite.select(all, List.of("kill-dst-*", "cut-go")).stream().map(Scenario::name).toList();
        assertEquals(9, picked.size(), picked.toString());
        assertEquals("kill-dst-offer", picked.getFirst());
        assertEquals("cut-go", picked.getLast());
    }

    @Test
    void theCiSelectionNamesExistingScenariosOfEveryKindAndNoKnownFailure() {
        Set<String> names = new HashSet<>(Scenarios.all().stream().map(Scenario::name).toList());
        for (String n : Scenarios.CI) {
            assertTrue(names.contains(n), "CI names an unknown scenario " + n);
            assertTrue(!Scenarios.KNOWN_FAILING.containsKey(n), "CI runs the known-failing " + n);
        }
        for (String n : Scenarios.KNOWN_FAILING.keySet()) {
            assertTrue(names.contains(n), "KNOWN_FAILING names an unknown scenario " + n);
        }
        for (String kind : List.of("cut-", "kill-src-", "kill-dst-", "full-", "eio-", "cancel-", "fp-", "both-",
                "proxy-", "net-reset-", "net-drop-", "stop-")) {
            assertTrue(Scenarios.CI.stream().anyMatch(n -> n.startsWith(kind)), "CI runs no " + kind + "* scenario");
        }
    }

    @Test
    void everyFailpointAScenarioArmsIsOneTheDaemonPasses() {
        for (Scenario sc : Scenarios.all()) {
            for (String spec : List.of(sc.failpointsA(), sc.failpointsB())) {
                List<String> names = java.util.Arrays.stream(spec.split(",")).map(String::strip).filter(e -> !e.isEmpty())
                        .map(e -> e.substring(0, e.indexOf('='))).toList();
                assertTrue(dev.migrationd.daemon.engine.fault.FailpointNames.unknown(names).isEmpty(),
                        sc.name() + " arms an unknown failpoint: " + spec);
            }
        }
    }
}
