package dev.migrationd.control.cli.text;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses and prints the units the CLI takes and shows: sizes ({@code 1GiB}, {@code 512MiB}, {@code 4096}),
 * rates ({@code 50MiB/s}, {@code 0}), durations ({@code 300ms}, {@code 10m}, {@code 1.5s}) and percentages
 * ({@code 25%}). Sizes accept IEC suffixes (KiB, MiB, GiB, TiB = powers of 1024) and SI ones (kB, MB, GB,
 * TB = powers of 1000), case-insensitive, with an optional {@code B}. Every error names the input and
 * what would have been accepted.
 */
public final class Units {

    private static final Pattern NUMBER_UNIT = Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([A-Za-z%]*)\\s*");
    private static final String SIZE_HELP = "a size such as 4096, 512MiB, 1GiB or 2GB";
    private static final String RATE_HELP = "a rate such as 50MiB/s, 1GiB/s or 0";
    private static final String DURATION_HELP = "a duration such as 300ms, 2s, 1.5s, 10m or 1h";
    private static final String PERCENT_HELP = "a percentage such as 25% (0% < x <= 100%)";

    private Units() {
    }

    /** Bytes from a size such as {@code 1GiB}; a bare number is bytes. */
    public static long parseSize(String text) {
        Matcher m = match(text, SIZE_HELP);
        long factor = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "", "b" -> 1L;
            case "k", "ki", "kib" -> 1L << 10;
            case "m", "mi", "mib" -> 1L << 20;
            case "g", "gi", "gib" -> 1L << 30;
            case "t", "ti", "tib" -> 1L << 40;
            case "kb" -> 1_000L;
            case "mb" -> 1_000_000L;
            case "gb" -> 1_000_000_000L;
            case "tb" -> 1_000_000_000_000L;
            default -> throw new IllegalArgumentException(
                    "'" + text + "': unknown size unit '" + m.group(2) + "'; expected " + SIZE_HELP);
        };
        return scale(text, m.group(1), factor, SIZE_HELP);
    }

    /** Bytes per second from a rate such as {@code 50MiB/s}; {@code 0} means none/unlimited. */
    public static long parseRate(String text) {
        String t = text.trim();
        if (t.endsWith("/s")) {
            t = t.substring(0, t.length() - 2);
        } else if (!t.matches("\\s*0+\\s*")) {
            throw new IllegalArgumentException("'" + text + "': a rate needs '/s'; expected " + RATE_HELP);
        }
        try {
            return parseSize(t);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "': not a rate; expected " + RATE_HELP);
        }
    }

    /** A duration such as {@code 300ms}, {@code 10m}; a unit is required. */
    public static Duration parseDuration(String text) {
        Matcher m = match(text, DURATION_HELP);
        long nanosPerUnit = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "ns" -> 1L;
            case "us" -> 1_000L;
            case "ms" -> 1_000_000L;
            case "s" -> 1_000_000_000L;
            case "m", "min" -> 60_000_000_000L;
            case "h" -> 3_600_000_000_000L;
            case "" -> throw new IllegalArgumentException(
                    "'" + text + "': a duration needs a unit; expected " + DURATION_HELP);
            default -> throw new IllegalArgumentException(
                    "'" + text + "': unknown duration unit '" + m.group(2) + "'; expected " + DURATION_HELP);
        };
        return Duration.ofNanos(scale(text, m.group(1), nanosPerUnit, DURATION_HELP));
    }

    /** A fraction in (0, 1] from a percentage such as {@code 25%}. */
    public static double parsePercent(String text) {
        Matcher m = match(text, PERCENT_HELP);
        if (!m.group(2).equals("%")) {
            throw new IllegalArgumentException("'" + text + "': expected " + PERCENT_HELP);
        }
        double v = Double.parseDouble(m.group(1));
        if (!(v > 0 && v <= 100)) {
            throw new IllegalArgumentException("'" + text + "': out of range; expected " + PERCENT_HELP);
        }
        return v / 100.0;
    }

    private static Matcher match(String text, String help) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty value; expected " + help);
        }
        Matcher m = NUMBER_UNIT.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "': not understood; expected " + help);
        }
        return m;
    }

    private static long scale(String text, String number, long factor, String help) {
        double v = Double.parseDouble(number) * factor;
        if (v >= Long.MAX_VALUE) {
            throw new IllegalArgumentException("'" + text + "': too large; expected " + help);
        }
        if (v != Math.rint(v)) {
            throw new IllegalArgumentException("'" + text + "': not a whole number of the base unit; expected " + help);
        }
        return (long) v;
    }

    // ---- printing ------------------------------------------------------------------------------------

    /** {@code 1.5 GiB}, {@code 512 B}. */
    public static String formatBytes(double bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        double v = bytes;
        while (Math.abs(v) >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? String.format(Locale.ROOT, "%.0f %s", v, units[i]) : String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }

    /** {@code 48.0 MiB/s}. */
    public static String formatRate(double bytesPerSecond) {
        return formatBytes(bytesPerSecond) + "/s";
    }

    /** {@code 120ms}, {@code 2.4s}, {@code 3m05s}. */
    public static String formatDuration(Duration d) {
        long ms = d.toMillis();
        if (ms < 1000) {
            return ms + "ms";
        }
        if (ms < 60_000) {
            return String.format(Locale.ROOT, "%.1fs", ms / 1000.0);
        }
        long s = ms / 1000;
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }
}
