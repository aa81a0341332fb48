import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the console logs of one lab guest, in order (for example the source host's log, then the destination
 * host's), and says whether the guest's counter kept counting: every counter line is the previous one plus one,
 * from the first file to the last. Prints one line of key=value facts:
 *
 * <pre>
 * continuous=yes lines=530 first=1 last=530 files=301@1-301,229@302-530 move_at=301 move_gap_ms=1830
 *   max_gap_ms=1830 max_gap_at=301 median_interval_ms=250 downtime_ms=1580 breaks=0
 * </pre>
 *
 * The guest prints "EPOCH SS.MICROS lab-counter N" (its own wall clock, busybox ts); xenconsoled may prefix
 * "[YYYY-MM-DD HH:MM:SS] ". Other lines (kernel messages) are ignored. {@code move_at} is the last counter before
 * the switch from one file to the next (several files) or before the largest gap (one file); {@code downtime_ms}
 * is that gap minus the median interval between lines: how long the guest did not run, seen by its own clock.
 *
 * <p>Usage: {@code java ConsoleCheck.java [--min-after N] FILE...}; {@code --min-after N}: at least N lines after
 * the move (the guest kept running there). Exit status 0 when continuous (and enough lines after the move), 1
 * when not, 2 on a usage or I/O error.
 */
public final class ConsoleCheck {
    private static final Pattern LINE =
            Pattern.compile("(?:^|\\s)(\\d{9,11}) (\\d\\d)\\.(\\d{6}) lab-counter (\\d{1,12})\\s*$");

    record Tick(long counter, long micros, int file) {}

    public static void main(String[] args) {
        int minAfter = 0;
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--min-after") && i + 1 < args.length) {
                minAfter = Integer.parseInt(args[++i]);
            } else if (args[i].startsWith("--")) {
                usage("unknown option " + args[i]);
            } else {
                files.add(Path.of(args[i]));
            }
        }
        if (files.isEmpty()) {
            usage("no console log given");
        }
        List<Tick> ticks = new ArrayList<>();
        int[] perFile = new int[files.size()];
        for (int f = 0; f < files.size(); f++) {
            List<String> lines;
            try {
                lines = Files.readAllLines(files.get(f), java.nio.charset.StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                System.out.println("continuous=no error=cannot-read:" + files.get(f));
                System.exit(2);
                return;
            }
            for (String line : lines) {
                Matcher m = LINE.matcher(line.replace("\r", ""));
                if (!m.find()) {
                    continue;
                }
                long epoch = Long.parseLong(m.group(1));
                long micros = epoch * 1_000_000L + Long.parseLong(m.group(3));
                ticks.add(new Tick(Long.parseLong(m.group(4)), micros, f));
                perFile[f]++;
            }
        }
        Verdict verdict = summarize(ticks, perFile, minAfter);
        System.out.println(verdict.facts());
        System.exit(verdict.ok() ? 0 : 1);
    }

    record Verdict(boolean ok, String facts) {}

    static Verdict summarize(List<Tick> ticks, int[] perFile, int minAfter) {
        StringBuilder out = new StringBuilder();
        if (ticks.isEmpty()) {
            return new Verdict(false, "continuous=no lines=0 error=no-counter-lines");
        }
        int breaks = 0;
        String firstBreak = "";
        int backwards = 0;
        long maxGap = -1;
        int maxGapIndex = 0;
        long[] intervals = new long[ticks.size() - 1];
        int moveIndex = -1; // index of the last tick before a file switch
        for (int i = 1; i < ticks.size(); i++) {
            Tick a = ticks.get(i - 1);
            Tick b = ticks.get(i);
            if (b.counter() != a.counter() + 1) {
                if (breaks++ == 0) {
                    firstBreak = a.counter() + "->" + b.counter();
                }
            }
            long gap = b.micros() - a.micros();
            intervals[i - 1] = gap;
            if (gap < 0) {
                backwards++;
            }
            if (gap > maxGap) {
                maxGap = gap;
                maxGapIndex = i - 1;
            }
            if (b.file() != a.file() && moveIndex < 0) {
                moveIndex = i - 1;
            }
        }
        long median = 0;
        if (intervals.length > 0) {
            long[] sorted = intervals.clone();
            Arrays.sort(sorted);
            median = sorted[sorted.length / 2];
        }
        if (moveIndex < 0) {
            moveIndex = maxGapIndex;
        }
        long moveGap = moveIndex + 1 < ticks.size() ? ticks.get(moveIndex + 1).micros() - ticks.get(moveIndex).micros() : 0;
        int after = ticks.size() - moveIndex - 1;
        out.append("continuous=").append(breaks == 0 ? "yes" : "no");
        out.append(" lines=").append(ticks.size());
        out.append(" first=").append(ticks.getFirst().counter());
        out.append(" last=").append(ticks.getLast().counter());
        out.append(" files=");
        for (int f = 0, start = 0; f < perFile.length; f++) {
            if (f > 0) {
                out.append(',');
            }
            out.append(perFile[f]);
            if (perFile[f] > 0) {
                out.append('@').append(ticks.get(start).counter()).append('-')
                        .append(ticks.get(start + perFile[f] - 1).counter());
            }
            start += perFile[f];
        }
        out.append(" move_at=").append(ticks.get(moveIndex).counter());
        out.append(" move_gap_ms=").append(moveGap / 1000);
        out.append(" lines_after_move=").append(after);
        out.append(" max_gap_ms=").append(Math.max(maxGap, 0) / 1000);
        out.append(" max_gap_at=").append(ticks.get(maxGapIndex).counter());
        out.append(" median_interval_ms=").append(median / 1000);
        out.append(" downtime_ms=").append(Math.max(moveGap - median, 0) / 1000);
        out.append(" breaks=").append(breaks);
        if (breaks > 0) {
            out.append(" first_break=").append(firstBreak);
        }
        if (backwards > 0) {
            out.append(" clock_backwards=").append(backwards);
        }
        if (after < minAfter) {
            out.append(" error=only-").append(after).append("-lines-after-the-move");
        }
        return new Verdict(breaks == 0 && after >= minAfter, out.toString());
    }

    private static void usage(String problem) {
        System.err.println("ConsoleCheck: " + problem);
        System.err.println("usage: java ConsoleCheck.java [--min-after N] CONSOLE-LOG...");
        System.exit(2);
    }

    private ConsoleCheck() {}
}
