package dev.migrationd.control.cli.file;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** restore's default domain name. */
class RestoreCommandTest {

    @Test
    void restoreDefaultsTheNameToTheFileStem() {
        assertEquals("dom7", RestoreCommand.defaultName(Path.of("/tmp/dom7.save")));
        assertEquals("dom7", RestoreCommand.defaultName(Path.of("dom7")));
    }
}
