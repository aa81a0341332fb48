package dev.migrationd.daemon.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.MigrationDaemon;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The daemon's log lines as its own logback.xml makes them, in a child JVM (logback is configured once
 * per process): key=value text with escaped values, JSON objects, and journald priority prefixes.
 */
class LogFormatTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "plain|plain",
            "two words|\"two words\"",
            "'say \"hi\"'|\"say \\\"hi\\\"\"",
            "a=b|\"a=b\"",
            "''|\"\""})
    void valuesAreBareOrQuotedAndEscaped(String value, String rendered) {
        StringBuilder b = new StringBuilder();
        KeyValuesConverter.appendValue(b, value);
        assertEquals(rendered, b.toString());
    }

    @Test
    void aNewlineFromAPeerCannotStartAForgedLine() {
        StringBuilder b = new StringBuilder();
        KeyValuesConverter.appendValue(b, "bad\nts=2026 level=ERROR event=forged\u0007");
        assertEquals("\"bad\\nts=2026 level=ERROR event=forged\\u0007\"", b.toString());
    }

    /** Runs {@link Emitter} with the daemon's logback.xml; returns its stderr lines. */
    private List<String> emit(String format, Map<String, String> env) throws Exception {
        Path out = dir.resolve("out-" + System.nanoTime());
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-cp", System.getProperty("java.class.path"),
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                Emitter.class.getName(), format));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().remove("JOURNAL_STREAM");
        pb.environment().putAll(env);
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(out));
        return Files.readAllLines(out, StandardCharsets.UTF_8);
    }

    /** Logs two events the way the daemon does, after choosing the format as its main does. */
    public static final class Emitter {
        public static void main(String[] args) {
            System.setProperty(MigrationDaemon.LOG_FORMAT_PROPERTY, args[0]);
            org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger("Daemon");
            log.atInfo().setMessage("event=daemon_started").addKeyValue("name", "hostA")
                    .addKeyValue("peers", "hostB,hostC").log();
            log.atWarn().setMessage("event=offer_refused").addKeyValue("reason", "source said \"hi\"\nforged=1").log();
        }
    }

    @Test
    void textIsOneKeyValueLinePerEvent() throws Exception {
        List<String> lines = emit("text", Map.of());
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).matches("ts=\\S+Z level=INFO logger=Daemon event=daemon_started name=hostA peers=hostB,hostC"),
                lines.get(0));
        assertTrue(lines.get(1).endsWith("level=WARN logger=Daemon event=offer_refused reason=\"source said \\\"hi\\\"\\nforged=1\""),
                lines.get(1));
    }

    @Test
    void jsonIsOneObjectPerLineWithTheKeyValuePairs() throws Exception {
        List<String> lines = emit("json", Map.of());
        assertEquals(2, lines.size(), lines.toString());
        for (String l : lines) {
            assertTrue(l.startsWith("{") && l.endsWith("}"), l);
        }
        assertTrue(lines.get(0).contains("\"level\":\"INFO\""), lines.get(0));
        assertTrue(lines.get(0).contains("\"formattedMessage\":\"event=daemon_started\""), lines.get(0));
        assertTrue(lines.get(0).contains("{\"name\":\"hostA\"}") && lines.get(0).contains("{\"peers\":\"hostB,hostC\"}"), lines.get(0));
        assertTrue(lines.get(1).contains("{\"reason\":\"source said \\\"hi\\\"\\nforged=1\"}"), lines.get(1));
    }

    @Test
    void underSystemdEachLineStartsWithItsJournalPriority() throws Exception {
        List<String> text = emit("text", Map.of("JOURNAL_STREAM", "8:12345"));
        assertTrue(text.get(0).startsWith("<6>ts="), text.get(0));
        assertTrue(text.get(1).startsWith("<4>ts="), text.get(1));
        List<String> json = emit("json", Map.of("JOURNAL_STREAM", "8:12345"));
        assertTrue(json.get(0).startsWith("<6>{"), json.get(0));
        assertTrue(json.get(1).startsWith("<4>{"), json.get(1));
    }
}
