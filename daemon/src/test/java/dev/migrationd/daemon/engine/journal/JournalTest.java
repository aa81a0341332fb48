package dev.migrationd.daemon.engine.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalTest {

    @TempDir
    Path dir;

    @Test
    void roundTripsFieldsWithSpacesAndSkipsATornOrForeignLine() throws Exception {
        Instant ts = Instant.parse("2026-11-25T22:00:00Z");
        try (Journal j = new Journal(dir)) {
            j.append(new Journal.Entry(ts, "m 1", Journal.Role.SOURCE, Journal.State.STARTED,
                    Map.of("domain", "vm=1", "reason", "a b\nc%")));
            j.append(new Journal.Entry(ts, "m 1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
        }
        Files.writeString(dir.resolve(Journal.FILE_NAME), "garbage line without pairs\nts=2026-11-25T22:00:01Z id=x role=sour",
                StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        List<Journal.Entry> back = Journal.read(dir);
        assertEquals(2, back.size());
        assertEquals("vm=1", back.get(0).field("domain"));
        assertEquals("a b\nc%", back.get(0).field("reason"));
        assertEquals("m 1", back.get(1).id());
        assertEquals(Journal.State.COMMITTING, Journal.lastById(back).get("SOURCE/m 1").state());
        // appending after a torn line starts a fresh line that is read back
        try (Journal j = new Journal(dir)) {
            j.append(new Journal.Entry(ts, "m2", Journal.Role.DESTINATION, Journal.State.COMMITTED, Map.of()));
        }
        List<Journal.Entry> again = Journal.read(dir);
        assertEquals(Journal.State.COMMITTED, again.getLast().state());
        assertEquals("m2", again.getLast().id());
    }
}
