package dev.migrationd.daemon.engine.journal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.fault.FailpointNames;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalTest {

    static final Instant T0 = Instant.parse("2026-11-25T22:00:00Z");

    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve(Journal.FILE_NAME);
    }

    static Journal.Entry entry(String id, Journal.Role role, Journal.State state, Map<String, String> fields) {
        return new Journal.Entry(T0, id, role, state, fields);
    }

    private static List<Journal.Entry> entries(Path dir) throws IOException {
        return JournalReader.read(Files.readAllBytes(dir.resolve(Journal.FILE_NAME))).entries();
    }

    /** The journal on a clock at {@link #T0}, so that nothing written here is past its retention. */
    private Journal open() throws IOException {
        return open(new FaultyChannel.Faults());
    }

    private Journal open(FaultyChannel.Faults faults) throws IOException {
        return new Journal(dir, Journal.DEFAULT_RETENTION, Clock.fixed(T0, ZoneOffset.UTC), Journal.COMPACT_THRESHOLD_BYTES,
                FaultyChannel.opener(faults));
    }

    @Test
    void roundTripsAnyFieldValueAndStartsWithTheHeader() throws Exception {
        Map<String, String> odd = Map.of("domain", "vm=1", "reason", "a b\nc% é 😀 \u0000 end", "key", "");
        try (Journal j = open()) {
            j.append(entry("m 1", Journal.Role.SOURCE, Journal.State.STARTED, odd));
            j.append(entry("m 1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
            assertEquals(Journal.State.COMMITTING, j.lastState(Journal.Role.SOURCE, "m 1").orElseThrow());
        }
        byte[] bytes = Files.readAllBytes(file());
        assertArrayEquals(JournalFormat.header(), Arrays.copyOf(bytes, JournalFormat.HEADER_BYTES));
        List<Journal.Entry> back = entries(dir);
        assertEquals(2, back.size());
        assertEquals(odd, back.get(0).fields());
        assertEquals("m 1", back.get(1).id());
        try (Journal j = open()) {
            Journal.Migration m = j.replayed().getFirst();
            assertEquals(Journal.State.COMMITTING, m.state());
            assertEquals("vm=1", m.first().field("domain"));
            assertEquals(JournalReader.Tail.NONE, j.opened().tail());
        }
    }

    @Test
    void anInterruptedCallerStillAppendsKeepsItsInterruptAndLeavesTheJournalUsable() throws Exception {
        // a cancelled migration's thread is interrupted; a FileChannel used on it would be closed for everyone
        try (Journal j = open()) {
            Thread.currentThread().interrupt();
            try {
                j.append(entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
                assertTrue(Thread.currentThread().isInterrupted(), "the caller's interrupt status is kept");
            } finally {
                Thread.interrupted();
            }
            assertTrue(j.usable(), () -> "unusable: " + j.failure());
            j.append(entry("m2", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
        }
        List<Journal.Entry> back = entries(dir);
        assertEquals(List.of("m1", "m2"), back.stream().map(Journal.Entry::id).toList());
    }

    @Test
    void aTornLastRecordIsCutAtEveryOffsetAndTheNextAppendFollowsTheValidOnes() throws Exception {
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.DESTINATION, Journal.State.ACCEPTED, Map.of("domain", "vm1")));
        }
        long valid = Files.size(file());
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.DESTINATION, Journal.State.COMMITTED, Map.of()));
        }
        byte[] whole = Files.readAllBytes(file());
        for (long cut = valid + 1; cut < whole.length; cut++) {
            Files.write(file(), Arrays.copyOf(whole, (int) cut));
            try (Journal j = open()) {
                assertEquals(JournalReader.Tail.TORN, j.opened().tail(), "cut at " + cut);
                assertEquals(cut - valid, j.opened().cutBytes());
                assertEquals(Journal.State.ACCEPTED, j.lastState(Journal.Role.DESTINATION, "m1").orElseThrow(), "cut at " + cut);
                assertEquals(valid, Files.size(file()), "the torn bytes are cut, not kept");
                j.append(entry("m1", Journal.Role.DESTINATION, Journal.State.FAILED, Map.of("reason", "restart")));
            }
            List<Journal.Entry> back = entries(dir);
            assertEquals(List.of(Journal.State.ACCEPTED, Journal.State.FAILED), back.stream().map(Journal.Entry::state).toList());
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("damaged")), "a torn tail is not kept aside");
        }
    }

    @Test
    void damageInTheMiddleRefusesToOpenNamingTheOffsetUntilARepairKeepsTheWholeFileAndCutsIt() throws Exception {
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.DONE, Map.of()));
        }
        byte[] whole = Files.readAllBytes(file());
        List<Journal.Entry> all = entries(dir);
        int secondRecord = JournalFormat.HEADER_BYTES + JournalFormat.RECORD_HEADER_BYTES
                + JournalFormat.payload(all.get(0)).length;
        byte[] bad = whole.clone();
        bad[secondRecord + 12] ^= 0x20;
        Files.write(file(), bad);
        // a valid DONE follows the bad COMMITTING: bit rot, not a torn write; cutting would drop DONE silently
        Journal.DamagedException e = assertThrows(Journal.DamagedException.class, this::open);
        assertEquals(secondRecord, e.offset());
        assertTrue(e.getMessage().contains("damaged at byte offset " + secondRecord) && e.getMessage().contains("--journal-repair"),
                e.getMessage());
        assertArrayEquals(bad, Files.readAllBytes(file()), "nothing changed");
        assertEquals(List.of(Journal.FILE_NAME), fileNames(), "nothing written beside it");
        assertThrows(Journal.DamagedException.class, this::open, "refused again at the next start");

        Journal.Repaired r = Journal.repairDamage(dir, Clock.fixed(T0, ZoneOffset.UTC)).orElseThrow();
        assertEquals(secondRecord, r.offset());
        assertEquals(bad.length - secondRecord, r.cut());
        assertArrayEquals(bad, Files.readAllBytes(r.keptAs()), "the whole damaged file is kept");
        assertEquals(secondRecord, Files.size(file()));
        try (Journal j = open()) {
            assertEquals(JournalReader.Tail.NONE, j.opened().tail());
            assertEquals(Journal.State.STARTED, j.lastState(Journal.Role.SOURCE, "m1").orElseThrow(),
                    "after the repair, replay has the valid prefix");
        }
        assertTrue(Journal.repairDamage(dir, Clock.fixed(T0.plusSeconds(1), ZoneOffset.UTC)).isEmpty(),
                "a journal that is not damaged is left alone");
        assertEquals(2, fileNames().size());
    }

    private List<String> fileNames() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void invalidBytesAfterACrashNeverStopTheJournalFromOpening() throws Exception {
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
        }
        byte[] junk = {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, (byte) 0xFE, 0, 0, 0, 5, 'x', '\n', (byte) 0x80};
        Files.write(file(), junk, StandardOpenOption.APPEND);
        try (Journal j = open()) {
            assertEquals(Journal.State.STARTED, j.lastState(Journal.Role.SOURCE, "m1").orElseThrow());
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.FAILED, Map.of()));
        }
        assertEquals(2, entries(dir).size());
    }

    @Test
    void aShortWriteMakesTheJournalUnusableUntilRepairedAndNothingIsEverGluedToTheFragment() throws Exception {
        FaultyChannel.Faults faults = new FaultyChannel.Faults();
        try (Journal j = open(faults)) {
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of("domain", "vm1")));
            long good = Files.size(file());
            faults.writeThenFail = 11;
            IOException e = assertThrows(IOException.class,
                    () -> j.append(entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of())));
            assertTrue(e.getMessage().contains("No space left"), e.getMessage());
            assertFalse(j.usable());
            assertEquals(good + 11, Files.size(file()), "the fragment is on disk");
            // every later append fails at once, without writing
            assertThrows(IOException.class, () -> j.append(entry("m2", Journal.Role.SOURCE, Journal.State.STARTED, Map.of())));
            assertEquals(good + 11, Files.size(file()));
            assertEquals(Journal.State.STARTED, j.lastState(Journal.Role.SOURCE, "m1").orElseThrow(),
                    "what is not durable is not answered");
            j.repair();
            assertTrue(j.usable());
            assertEquals(good, Files.size(file()), "repair cuts the fragment");
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
        }
        assertEquals(List.of(Journal.State.STARTED, Journal.State.COMMITTING), entries(dir).stream().map(Journal.Entry::state).toList());
        try (Journal j = open()) {
            assertEquals(JournalReader.Tail.NONE, j.opened().tail());
        }
    }

    @Test
    void aFailedForceMeansTheRecordMayOrMayNotBeThereAndRepairMakesItCertainlyAbsent() throws Exception {
        FaultyChannel.Faults faults = new FaultyChannel.Faults();
        try (Journal j = open(faults)) {
            j.append(entry("m1", Journal.Role.DESTINATION, Journal.State.ACCEPTED, Map.of()));
            faults.forceFails.set("Input/output error (injected fsync)");
            assertThrows(IOException.class, () -> j.append(entry("m1", Journal.Role.DESTINATION, Journal.State.COMMITTED, Map.of())));
            assertEquals(Journal.State.ACCEPTED, j.lastState(Journal.Role.DESTINATION, "m1").orElseThrow());
            // the whole record is in the file (written, not known durable): a crash now would replay it
            assertEquals(Journal.State.COMMITTED, entries(dir).getLast().state());
            j.repair();
            assertEquals(Journal.State.ACCEPTED, entries(dir).getLast().state(), "after the repair it is certainly gone");
        }
    }

    @Test
    void aRepairThatFailsLeavesTheJournalUnusable() throws Exception {
        FaultyChannel.Faults faults = new FaultyChannel.Faults();
        try (Journal j = open(faults)) {
            faults.writeThenFail = 0;
            assertThrows(IOException.class, () -> j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of())));
            faults.openFails = true;
            assertThrows(IOException.class, j::repair);
            assertFalse(j.usable());
            faults.openFails = false;
            j.repair();
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
        }
        assertEquals(1, entries(dir).size());
    }

    @Test
    void aPeersLongReasonIsCutNeverDroppedAndAnOversizedRecordIsRefusedWithoutHarm() throws Exception {
        String reason = "destination failed: " + "é".repeat(200_000);
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.FAILED, Map.of("reason", reason)));
            String huge = "x".repeat(JournalFormat.MAX_RECORD_BYTES);
            assertThrows(JournalFormat.RecordTooLargeException.class,
                    () -> j.append(entry(huge, Journal.Role.SOURCE, Journal.State.STARTED, Map.of())));
            assertTrue(j.usable(), "nothing was written");
            j.append(entry("m2", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
        }
        List<Journal.Entry> back = entries(dir);
        assertEquals(3, back.size());
        String kept = back.get(1).field("reason");
        assertEquals(Journal.State.FAILED, back.get(1).state(), "the FAILED record is there");
        assertTrue(kept.startsWith("destination failed: éé") && kept.endsWith(JournalFormat.CUT_MARK), kept);
        assertTrue(kept.length() <= JournalFormat.MAX_REASON_CHARS);
    }

    @Test
    void aTextJournalOfThePreviousFormatIsUpgradedOnceWithNothingLost() throws Exception {
        String longReason = "r".repeat(10_000); // the previous reader dropped lines over 8 KiB
        String text = "ts=2026-11-25T22:00:00Z id=m1 role=source state=STARTED domain=vm1 peer=hostB guest=HVM uuid=u key=\n"
                + "ts=2026-11-25T22:00:01Z id=m1 role=source state=COMMITTING\n"
                + "ts=2026-11-25T22:00:02Z id=m2 role=destination state=FAILED reason=" + longReason + "\n"
                + "garbage \u00ff\n"
                + "ts=2026-11-25T22:00:03Z id=m3 role=dest";
        Files.writeString(file(), text, StandardCharsets.ISO_8859_1);
        try (Journal j = open()) {
            assertTrue(j.opened().upgraded());
            assertEquals(Journal.State.COMMITTING, j.lastState(Journal.Role.SOURCE, "m1").orElseThrow(),
                    "the in-doubt migration survives the upgrade");
            assertEquals("vm1", j.migration(Journal.Role.SOURCE, "m1").orElseThrow().first().field("domain"));
            assertEquals(Journal.State.FAILED, j.lastState(Journal.Role.DESTINATION, "m2").orElseThrow());
        }
        assertEquals(text, Files.readString(dir.resolve(Journal.FILE_NAME + Journal.TEXT_BACKUP_SUFFIX), StandardCharsets.ISO_8859_1));
        assertEquals("CURRENT", JournalReader.read(Files.readAllBytes(file())).header());
        assertEquals(longReason.substring(0, 100), entries(dir).get(2).field("reason").substring(0, 100));
        try (Journal j = open()) {
            assertFalse(j.opened().upgraded(), "upgraded once");
            assertEquals(2, j.replayed().size(), "m1, m2 (the torn m3 line was never an entry)");
        }
    }

    @Test
    void aJournalOfANewerFormatStopsTheDaemonAndIsLeftAsItIs() throws Exception {
        byte[] header = JournalFormat.header();
        header[11] = 3; // version 3
        var crc = new java.util.zip.CRC32C();
        crc.update(header, 0, 12);
        java.nio.ByteBuffer.wrap(header).putInt(12, (int) crc.getValue());
        Files.write(file(), header);
        IOException e = assertThrows(IOException.class, () -> open());
        assertTrue(e.getMessage().contains("format version 3"), e.getMessage());
        assertArrayEquals(header, Files.readAllBytes(file()));
    }

    @Test
    void aFileThatIsNotAJournalIsSetAsideAndANewJournalBegun() throws Exception {
        byte[] junk = {(byte) 0x89, 'M', 'G', 'J', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
        Files.write(file(), junk);
        try (Journal j = open()) {
            Path aside = j.opened().keptAside().orElseThrow();
            assertArrayEquals(junk, Files.readAllBytes(aside));
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.STARTED, Map.of()));
        }
        assertEquals(1, entries(dir).size());
    }

    @Test
    void aLeftOverNewFileFromAnInterruptedRewriteIsRemovedAndTheJournalKept() throws Exception {
        try (Journal j = open()) {
            j.append(entry("m1", Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
        }
        Files.write(dir.resolve(Journal.FILE_NAME + Journal.NEW_SUFFIX), new byte[] {1, 2, 3});
        try (Journal j = open()) {
            assertEquals(Journal.State.COMMITTING, j.lastState(Journal.Role.SOURCE, "m1").orElseThrow());
        }
        assertFalse(Files.exists(dir.resolve(Journal.FILE_NAME + Journal.NEW_SUFFIX)));
    }

    /** A clock the test moves. */
    static final class MovableClock extends Clock {
        volatile Instant now;

        MovableClock(Instant now) {
            this.now = now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private static Journal.Entry at(Instant ts, String id, Journal.Role role, Journal.State state) {
        return new Journal.Entry(ts, id, role, state, Map.of("domain", "vm-" + id));
    }

    @Test
    void compactionAtStartDropsOnlyMigrationsThatEndedBeforeTheRetentionAndKeepsTheOrder() throws Exception {
        java.time.Duration week = java.time.Duration.ofDays(7);
        MovableClock clock = new MovableClock(T0);
        try (Journal j = new Journal(dir, week, clock, Journal.COMPACT_THRESHOLD_BYTES)) {
            j.append(at(T0, "old-done", Journal.Role.DESTINATION, Journal.State.ACCEPTED));
            j.append(at(T0, "old-open", Journal.Role.SOURCE, Journal.State.STARTED));
            j.append(at(T0, "old-done", Journal.Role.DESTINATION, Journal.State.COMMITTED));
            j.append(at(T0.plusSeconds(5), "old-done", Journal.Role.DESTINATION, Journal.State.DONE));
            j.append(at(T0.plusSeconds(6), "old-open", Journal.Role.SOURCE, Journal.State.COMMITTING));
            j.append(at(T0, "recent", Journal.Role.DESTINATION, Journal.State.ACCEPTED));
            j.append(at(T0.plus(java.time.Duration.ofDays(6)), "recent", Journal.Role.DESTINATION, Journal.State.FAILED));
        }
        clock.now = T0.plus(java.time.Duration.ofDays(8));
        try (Journal j = new Journal(dir, week, clock, Journal.COMPACT_THRESHOLD_BYTES)) {
            assertEquals(1, j.opened().dropped());
            assertTrue(j.lastState(Journal.Role.DESTINATION, "old-done").isEmpty(), "ended 8 days ago: dropped");
            assertEquals(Journal.State.COMMITTING, j.lastState(Journal.Role.SOURCE, "old-open").orElseThrow(),
                    "a migration that has not ended is never dropped, however old");
            assertEquals(Journal.State.FAILED, j.lastState(Journal.Role.DESTINATION, "recent").orElseThrow());
            assertEquals(List.of("old-open", "recent"), j.replayed().stream().map(Journal.Migration::id).toList());
        }
        assertEquals(List.of("old-open/STARTED", "old-open/COMMITTING", "recent/ACCEPTED", "recent/FAILED"),
                entries(dir).stream().map(e -> e.id() + "/" + e.state()).toList());
        assertFalse(Files.exists(dir.resolve(Journal.FILE_NAME + Journal.NEW_SUFFIX)));
    }

    @Test
    void compactionAtStartKeepsTheFirstAnyPausingAndTheLastRecordOfEachMigrationAndReplaysTheSame() throws Exception {
        MovableClock clock = new MovableClock(T0);
        List<Journal.Migration> before;
        try (Journal j = new Journal(dir, Journal.DEFAULT_RETENTION, clock, Journal.COMPACT_THRESHOLD_BYTES)) {
            j.append(at(T0, "src", Journal.Role.SOURCE, Journal.State.STARTED));
            j.append(at(T0, "dst", Journal.Role.DESTINATION, Journal.State.ACCEPTED));
            j.append(at(T0, "src", Journal.Role.SOURCE, Journal.State.PAUSING));
            j.append(at(T0, "src", Journal.Role.SOURCE, Journal.State.COMMITTING));
            j.append(at(T0, "dst", Journal.Role.DESTINATION, Journal.State.COMMITTED));
            j.append(at(T0, "src", Journal.Role.SOURCE, Journal.State.DONE));
            j.append(at(T0, "dst", Journal.Role.DESTINATION, Journal.State.DONE));
            j.append(at(T0, "once", Journal.Role.SOURCE, Journal.State.STARTED));
            before = j.migrations();
        }
        try (Journal j = new Journal(dir, Journal.DEFAULT_RETENTION, clock, Journal.COMPACT_THRESHOLD_BYTES)) {
            assertEquals(before, j.replayed(), "replaying the compacted journal gives the same migrations");
        }
        assertEquals(List.of("src/STARTED", "dst/ACCEPTED", "src/PAUSING", "src/DONE", "dst/DONE", "once/STARTED"),
                entries(dir).stream().map(e -> e.id() + "/" + e.state()).toList());
        byte[] compacted = Files.readAllBytes(file());
        try (Journal j = new Journal(dir, Journal.DEFAULT_RETENTION, clock, Journal.COMPACT_THRESHOLD_BYTES)) {
            assertEquals(before, j.replayed());
        }
        assertArrayEquals(compacted, Files.readAllBytes(file()), "nothing left to drop: the next start does not rewrite it");
    }

    @Test
    void aJournalPastItsThresholdIsCompactedInTheBackgroundWhileAppendsGoOn() throws Exception {
        MovableClock clock = new MovableClock(T0.plus(java.time.Duration.ofDays(30)));
        long threshold = 16 * 1024;
        int writers = 2;
        int perWriter = 400;
        try (Journal j = new Journal(dir, Journal.DEFAULT_RETENTION, clock, threshold)) {
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(writers);
            List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        // an old, ended migration (droppable) and a recent one (kept) each time
                        j.append(at(T0, "old-" + writer + "-" + i, Journal.Role.SOURCE, Journal.State.FAILED));
                        j.append(at(clock.instant(), "new-" + writer + "-" + i, Journal.Role.SOURCE, Journal.State.DONE));
                    }
                    return null;
                }));
            }
            for (var f : done) {
                f.get();
            }
            pool.shutdown();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (j.migrations().stream().anyMatch(m -> m.id().startsWith("old-")) && System.nanoTime() < deadline) {
                j.compact(); // the background run may have ended before the last appends: finish the job
                Thread.sleep(10);
            }
            assertTrue(j.usable());
        }
        List<Journal.Entry> back = entries(dir);
        assertEquals(writers * perWriter, back.stream().filter(e -> e.id().startsWith("new-")).count(),
                "every recent record survives the compactions that ran during the appends");
        assertEquals(0, back.stream().filter(e -> e.id().startsWith("old-")).count());
        try (Journal j = new Journal(dir)) {
            assertEquals(JournalReader.Tail.NONE, j.opened().tail());
        }
    }

    @Test
    void aCompactionThatFailsBeforeItsRenameLeavesTheOldJournalInPlaceAndUsable() throws Exception {
        FaultyChannel.Faults faults = new FaultyChannel.Faults();
        MovableClock clock = new MovableClock(T0);
        try (Journal j = new Journal(dir, Journal.DEFAULT_RETENTION, clock, Journal.COMPACT_THRESHOLD_BYTES,
                FaultyChannel.opener(faults))) {
            j.append(at(T0, "a", Journal.Role.SOURCE, Journal.State.DONE));
            j.append(at(T0, "b", Journal.Role.SOURCE, Journal.State.COMMITTING));
            byte[] before = Files.readAllBytes(file());
            clock.now = T0.plus(java.time.Duration.ofDays(8));
            faults.forceFails.set("Input/output error (injected, compaction)");
            assertThrows(IOException.class, j::compact);
            assertArrayEquals(before, Files.readAllBytes(file()));
            assertFalse(Files.exists(dir.resolve(Journal.FILE_NAME + Journal.NEW_SUFFIX)));
            assertTrue(j.usable());
            assertEquals(Journal.State.DONE, j.lastState(Journal.Role.SOURCE, "a").orElseThrow());
            j.append(at(clock.instant(), "b", Journal.Role.SOURCE, Journal.State.DONE));
            assertEquals(1, j.compact(), "a later compaction succeeds");
        }
        assertEquals(List.of("b/COMMITTING", "b/DONE"), entries(dir).stream().map(e -> e.id() + "/" + e.state()).toList());
    }

    @Test
    void theFailpointStateSuffixesAreTheJournalsStates() {
        assertEquals(Arrays.stream(Journal.State.values()).map(Enum::name).toList(), FailpointNames.JOURNAL_STATES);
    }

    @Test
    void everyPayloadIsPrintableAsciiAndParsesBack() throws Exception {
        Journal.Entry e = entry("id ü", Journal.Role.DESTINATION, Journal.State.ACCEPTED, Map.of("reason", "\n\t\u0001 ✓"));
        byte[] p = JournalFormat.payload(e);
        for (byte b : p) {
            assertTrue(b >= 0x20 && b <= 0x7e, "byte " + b);
        }
        assertEquals(e, JournalFormat.parse(p, 0, p.length));
    }
}
