package dev.migrationd.control.cli.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class UnitsTest {

    @ParameterizedTest
    @CsvSource({"4096,4096", "1GiB,1073741824", "1gib,1073741824", "512MiB,536870912", "1.5KiB,1536",
            "2GB,2000000000", "1kB,1000", "64k,65536", " 3 MiB ,3145728", "0,0"})
    void sizes(String text, long bytes) {
        assertEquals(bytes, Units.parseSize(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "GiB", "1 XB", "-1GiB", "1.3B", "abc", "99999999TiB"})
    void badSizesNameTheInput(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Units.parseSize(text));
        assertTrue(e.getMessage().contains("expected a size"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"50MiB/s,52428800", "1GiB/s,1073741824", "0,0", "100MB/s,100000000"})
    void rates(String text, long bytesPerSecond) {
        assertEquals(bytesPerSecond, Units.parseRate(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"50MiB", "fast/s", "1GiB/m"})
    void badRates(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Units.parseRate(text));
        assertTrue(e.getMessage().contains("expected a rate"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"300ms,300000000", "10m,600000000000", "1.5s,1500000000", "1h,3600000000000", "250us,250000"})
    void durations(String text, long nanos) {
        assertEquals(Duration.ofNanos(nanos), Units.parseDuration(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"300", "10x", "ms", "1.5.2s"})
    void badDurations(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Units.parseDuration(text));
        assertTrue(e.getMessage().contains("expected a duration"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"25%,0.25", "100%,1.0", "0.5%,0.005"})
    void percents(String text, double fraction) {
        assertEquals(fraction, Units.parsePercent(text), 1e-12);
    }

    @ParameterizedTest
    @ValueSource(strings = {"25", "0%", "101%", "-5%"})
    void badPercents(String text) {
        assertThrows(IllegalArgumentException.class, () -> Units.parsePercent(text));
    }

    @ParameterizedTest
    @CsvSource({"512,512 B", "1536,1.5 KiB", "1073741824,1.0 GiB"})
    void formatsBytes(double bytes, String text) {
        assertEquals(text, Units.formatBytes(bytes));
    }

    @ParameterizedTest
    @CsvSource({"120,120ms", "2400,2.4s", "185000,3m05s", "7260000,2h01m"})
    void formatsDurations(long millis, String text) {
        assertEquals(text, Units.formatDuration(Duration.ofMillis(millis)));
    }
}
