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
}
