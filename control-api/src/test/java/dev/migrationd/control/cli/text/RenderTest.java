package dev.migrationd.control.cli.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.v1.Direction;
import dev.migrationd.control.v1.Migration;
import dev.migrationd.control.v1.Phase;
import java.util.List;
import org.junit.jupiter.api.Test;

class RenderTest {

    private static final String HINT = "the destination (hostB) has no record of this migration: the guest stays paused here"
            + " until an operator runs migrationctl resolve m-1 --resume-source or --confirm-destination";

    private static Migration inDoubt() {
        return Migration.newBuilder().setId("m-1").setDomain("g").setSourceHost("hostA").setDestinationHost("hostB")
                .setDirection(Direction.DIRECTION_OUTGOING).setPhase(Phase.PHASE_IN_DOUBT).setPhaseDetail(HINT).build();
    }

    @Test
    void theTableShowsWhyAMigrationIsInDoubtUnderItsRow() {
        Migration running = Migration.newBuilder().setId("m-2").setDomain("h").setDirection(Direction.DIRECTION_OUTGOING)
                .setPhase(Phase.PHASE_PRECOPY).build();
        List<String> lines = Render.migrationTable(List.of(inDoubt(), running)).lines().toList();
        assertEquals(4, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(1).startsWith("m-1") && lines.get(1).contains("IN_DOUBT"), lines.get(1));
        assertEquals("  IN_DOUBT: " + HINT, lines.get(2));
        assertTrue(lines.get(3).startsWith("m-2"), lines.get(3));
    }

    @Test
    void statusShowsWhyAMigrationIsInDoubt() {
        String s = Render.status(inDoubt());
        assertTrue(s.contains("phase      IN_DOUBT\nwhy        " + HINT), s);
    }
}
