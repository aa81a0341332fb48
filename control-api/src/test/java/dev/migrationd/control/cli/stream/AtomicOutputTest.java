package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.control.cli.MigrationCtl;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicOutputTest {

    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aFailingWriterLeavesNoFileAndNoTemporary() throws Exception {
        Path out = dir.resolve("out");
        IOException boom = new IOException("disk full");
        IOException e = assertThrows(IOException.class, () -> AtomicOutput.write(out, false, os -> {
            os.write(new byte[100_000]);
            throw boom;
        }));
        assertEquals(boom, e);
        assertEquals(List.of(), listing());
    }

    @Test
    void aFailingForcedWriteKeepsTheOldContent() throws Exception {
        Path out = Files.writeString(dir.resolve("out"), "old");
        assertThrows(IllegalStateException.class, () -> AtomicOutput.write(out, true, os -> {
            os.write("new but partial".getBytes(StandardCharsets.US_ASCII));
            throw new IllegalStateException("generator bug");
        }));
        assertEquals("old", Files.readString(out));
        assertEquals(List.of("out"), listing());
    }

    @Test
    void withoutForceAFileCreatedWhileWritingIsNotClobbered() throws Exception {
        Path out = dir.resolve("out");
        CliException e = assertThrows(CliException.class, () -> AtomicOutput.write(out, false, os -> {
            os.write("ours".getBytes(StandardCharsets.US_ASCII));
            Files.writeString(out, "someone else's"); // appears after the up-front check
        }));
        assertEquals(ExitCode.USAGE, e.exitCode());
        assertTrue(e.getMessage().contains("was created meanwhile"), e.getMessage());
        assertEquals("someone else's", Files.readString(out));
        assertEquals(List.of("out"), listing());
    }

    @Test
    void successReplacesOnlyWithForce() throws Exception {
        Path out = dir.resolve("out");
        AtomicOutput.write(out, false, os -> os.write('a'));
        assertEquals("a", Files.readString(out));
        assertThrows(CliException.class, () -> AtomicOutput.write(out, false, os -> os.write('b')));
        assertEquals("a", Files.readString(out));
        AtomicOutput.write(out, true, os -> os.write('c'));
        assertEquals("c", Files.readString(out));
        assertEquals(List.of("out"), listing());
    }

    @Test
    void aMissingDirectoryIsAnIoError() {
        CliException e = assertThrows(CliException.class,
                () -> AtomicOutput.write(dir.resolve("no/such/dir/out"), false, os -> os.write(1)));
        assertEquals(ExitCode.IO, e.exitCode());
    }
}
