package dev.migrationd.faults;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The fault suite's runner: {@code bin/fault-suite [--list] [--keep] [SCENARIO|GLOB ...]}. Builds the lab
 * (network namespaces, bridge), runs the chosen scenarios one after the other, each with fresh daemons,
 * prints a table (scenario, outcome and why, copies seen, longest time with none, time to resolution) and
 * exits 0 only if every scenario passed. Logs of failed scenarios stay under the run directory, and
 * their last lines are printed. Processes, mounts and namespaces are removed on every exit path (a
 * shutdown hook covers Ctrl-C; the launcher's trap covers a killed JVM).
 *
 * <p>Threading: scenarios run on the main thread; the shutdown hook only closes what is open.
 */
public final class FaultSuite {

    private static final int LOG_TAIL = 12;
    private static volatile ScenarioRun current;

    private FaultSuite() {
    }

    record Row(String name, boolean passed, String why, int copies, long noneMillis, double resolution, double seconds) {

        /** A failure listed in {@link Scenarios#KNOWN_FAILING}: reported, counted apart, not failing the run. */
        boolean knownFailure() {
            return !passed && Scenarios.KNOWN_FAILING.containsKey(name);
        }

        /** A pass of a scenario listed as known-failing: its entry should go. */
        boolean unexpectedPass() {
            return passed && Scenarios.KNOWN_FAILING.containsKey(name);
        }

        String status() {
            return knownFailure() ? "KNOWN" : passed ? "PASS" : "FAIL";
        }
    }

    public static void main(String[] args) throws Exception {
        boolean list = false;
        boolean keep = false;
        boolean ci = false;
        List<String> patterns = new ArrayList<>();
        for (String a : args) {
            switch (a) {
                case "--list" -> list = true;
                case "--keep" -> keep = true;
                case "--ci" -> ci = true;
                case "-h", "--help" -> {
                    usage();
                    return;
                }
                default -> {
                    if (a.startsWith("-")) {
                        System.err.println("fault-suite: unknown option " + a);
                        usage();
                        System.exit(2);
                    }
                    patterns.add(a);
                }
            }
        }
        List<Scenario> all = Scenarios.all();
        if (ci && !patterns.isEmpty()) {
            System.err.println("fault-suite: --ci is a selection of its own; give it without scenario names");
            System.exit(2);
        }
        List<Scenario> chosen = select(all, ci ? Scenarios.CI : patterns);
        if (list) {
            for (Scenario s : chosen) {
                String known = Scenarios.KNOWN_FAILING.get(s.name());
                System.out.printf(Locale.ROOT, "%-36s %s%s%n", s.name(), s.description(),
                        known == null ? "" : " [KNOWN-FAILING: " + known + "]");
            }
            return;
        }
        String problem = prerequisites();
        if (problem != null) {
            System.err.println("fault-suite: " + problem);
            System.exit(2);
        }
        Path runDir = Config.base().resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(runDir);
        Path script = runDir.resolve("faultfs.py");
        try (InputStream in = FaultSuite.class.getResourceAsStream("faultfs.py")) {
            Files.copy(in, script);
        }
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            ScenarioRun r = current;
            if (r != null) {
                r.close();
            }
            Lab.unmountAll(Config.base());
            Lab.teardown();
        }));
        Lab.setup();
        System.out.println("fault-suite: " + chosen.size() + " scenario(s), run directory " + runDir);
        if (ci) {
            for (Map.Entry<String, String> k : new TreeMap<>(Scenarios.KNOWN_FAILING).entrySet()) {
                System.out.println("fault-suite: KNOWN-FAILING, not in the CI selection: " + k.getKey() + ": " + k.getValue());
            }
        }
        List<Row> rows = new ArrayList<>();
        long t0 = System.nanoTime();
        for (Scenario s : chosen) {
            rows.add(run(s, runDir, script, keep));
        }
        current = null;
        Lab.teardown();
        printTable(rows, (System.nanoTime() - t0) / 1e9);
        long passed = rows.stream().filter(Row::passed).count();
        long known = rows.stream().filter(Row::knownFailure).count();
        long failed = rows.size() - passed - known;
        for (Row r : rows) {
            if (r.knownFailure()) {
                System.out.println("fault-suite: KNOWN-FAILING " + r.name() + " failed as listed: "
                        + Scenarios.KNOWN_FAILING.get(r.name()));
            } else if (r.unexpectedPass()) {
                System.out.println("fault-suite: " + r.name() + " is listed as KNOWN-FAILING but PASSED: remove it from "
                        + "Scenarios.KNOWN_FAILING (and add it back to the CI selection if it was there)");
            }
        }
        String skipped = ci && !Scenarios.KNOWN_FAILING.isEmpty()
                ? ", " + Scenarios.KNOWN_FAILING.size() + " known-failing not run" : "";
        System.out.println("fault-suite: " + passed + " passed, " + failed + " failed, " + known + " known-failing failed"
                + skipped);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static void usage() {
        System.out.println("usage: bin/fault-suite [--list] [--keep] [--ci | SCENARIO|GLOB ...]   (root; e.g. 'kill-*' 'cut-go')");
        System.out.println("  --ci    the selection CI runs (one or more scenarios of every fault kind, about 10-12 minutes)");
        System.out.println("  --keep  keep the run directories of passing scenarios too");
        System.out.println("  --list  list the chosen scenarios (no root needed)");
    }

    static List<Scenario> select(List<Scenario> all, List<String> patterns) {
        if (patterns.isEmpty()) {
            return all;
        }
        List<Scenario> out = new ArrayList<>();
        for (String p : patterns) {
            PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + p);
            List<Scenario> hit = all.stream().filter(s -> m.matches(Path.of(s.name())) && !out.contains(s)).toList();
            if (hit.isEmpty() && all.stream().noneMatch(s -> m.matches(Path.of(s.name())))) {
                System.err.println("fault-suite: no scenario matches '" + p + "' (bin/fault-suite --list)");
                System.exit(2);
            }
            out.addAll(hit);
        }
        return out;
    }

    private static String prerequisites() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (!Integer.valueOf(0).equals(uid)) {
                return "needs root (network namespaces, nftables, mounts); run it as root";
            }
        } catch (IOException | UnsupportedOperationException e) {
            return "cannot tell whether this is root: " + e.getMessage();
        }
        for (String tool : List.of("ip", "nft", "nsenter", "mount", "umount", "kill")) {
            if (!Sh.run("sh", "-c", "command -v " + tool).ok()) {
                return "'" + tool + "' is missing (bin/fault-suite installs nftables; iproute2 and util-linux are needed)";
            }
        }
        if (!Sh.run("/usr/bin/python3", "-c", "import fusepy").ok()) {
            return "python3-fusepy is missing (bin/fault-suite installs it): faultfs needs it";
        }
        if (!Files.exists(Path.of("/dev/fuse"))) {
            return "/dev/fuse is missing: this kernel has no FUSE, which faultfs needs";
        }
        return null;
    }

    private static Row run(Scenario s, Path runDir, Path script, boolean keep) {
        Path dir = runDir.resolve(s.name());
        long t0 = System.nanoTime();
        System.out.println("---- " + s.name() + ": " + s.description());
        ScenarioRun r = new ScenarioRun(s, dir);
        current = r;
        String why;
        boolean passed;
        try {
            r.a.failpoints(s.failpointsA());
            r.b.failpoints(s.failpointsB());
            r.setUp(script);
            s.body().run(r);
            passed = true;
            why = String.join("; ", r.notes);
        } catch (ScenarioFailure e) {
            passed = false;
            why = e.getMessage();
        } catch (Exception | AssertionError e) {
            passed = false;
            why = "harness error: " + e;
        }
        CopyChecker.Seen seen = r.seen();
        r.writeReport((passed ? "PASS " : "FAIL ") + why);
        r.close();
        current = null;
        double secs = (System.nanoTime() - t0) / 1e9;
        Row row = new Row(s.name(), passed, why, seen == null ? -1 : seen.maxCopies(),
                seen == null ? -1 : seen.longestNoneNanos() / 1_000_000, r.resolutionSeconds(), secs);
        System.out.printf(Locale.ROOT, "%s %s (%.1f s): %s%n", row.status(), s.name(), secs, why);
        if (!passed) {
            for (Host h : List.of(r.a, r.b)) {
                System.out.println("  last lines of " + h.name + "'s log (" + h.log + "):");
                Host.tail(h.log(), LOG_TAIL).lines().forEach(l -> System.out.println("    " + l));
            }
            System.out.println("  timeline, checker trace: " + dir.resolve("report.txt"));
        } else if (!keep) {
            deleteTree(dir);
        }
        return row;
    }

    private static void printTable(List<Row> rows, double totalSeconds) {
        int w = rows.stream().mapToInt(r -> r.name().length()).max().orElse(10);
        String fmt = "%-" + w + "s  %-5s  %6s  %9s  %10s  %7s  %s%n";
        System.out.println();
        System.out.printf(Locale.ROOT, fmt, "scenario", "", "copies", "none(ms)", "resolve(s)", "time(s)", "outcome / why");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, fmt, r.name(), r.status(),
                    r.copies() < 0 ? "-" : Integer.toString(r.copies()),
                    r.noneMillis() < 0 ? "-" : Long.toString(r.noneMillis()),
                    r.resolution() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", r.resolution()),
                    String.format(Locale.ROOT, "%.0f", r.seconds()), oneLine(r.why()));
        }
        System.out.printf(Locale.ROOT, "%ncopies: most copies running at once (or 2 for a forked execution); none: longest time with no "
                + "running copy; resolve: fault to settled end state. Total %.0f s.%n", totalSeconds);
    }

    private static String oneLine(String s) {
        String l = s == null ? "" : s.replace('\n', ' ');
        return l.length() > 220 ? l.substring(0, 217) + "..." : l;
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("fault-suite: cannot remove " + dir + ": " + e.getMessage());
        }
    }
}
