package dev.migrationd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.daemon.engine.journal.Journal;
import dev.migrationd.daemon.engine.journal.JournalBytes;
import dev.migrationd.daemon.engine.journal.JournalReader;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerConnector;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.daemon.engine.run.MigrationPhase;
import dev.migrationd.daemon.engine.run.MigrationSummary;
import dev.migrationd.daemon.engine.simhost.SimGuest;
import dev.migrationd.daemon.engine.simhost.SimHost;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal cut at every byte offset (a crash mid-append, or a lost tail) and with every byte corrupted, each
 * replayed by a real engine start over a host in the state the crash left: recovery never resumes a source
 * that may have committed and never unpauses a destination whose COMMITTED it cannot read, and every other
 * outcome is the one the surviving records call for. The engine gets no peer, and what recovery leaves to the
 * background (asking the destination) is not run: only what the journal alone decides is under test here.
 *
 * <p>Every one of the 255 possible values of every byte is checked at the journal level (the records replayed
 * are always a prefix of those written, and the prefix the damage calls for); the engine runs one corrupted
 * value per offset, since it sees only the records replayed. A variant damaged in the middle (an invalid record
 * with valid ones after it) is refused at start with nothing changed, then repaired as an operator would
 * ({@code migrationd --journal-repair}: the whole file kept, the journal cut at the damage) and started again.
 */
class JournalBytesRecoveryTest {

    /** Recent enough that no compaction drops anything. */
    static final Instant TS = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    @TempDir
    Path dir;
    SimHost host;
    Path stateDir;

    @BeforeEach
    void setUp() throws Exception {
        host = SimHost.open(dir.resolve("host"));
        stateDir = dir.resolve("state");
    }

    @AfterEach
    void tearDown() throws Exception {
        host.close();
    }

    private static final PeerConnector NO_PEERS = new PeerConnector() {
        @Override
        public boolean knows(String peer) {
            return false;
        }

        @Override
        public boolean allows(String peer, dev.migrationd.daemon.engine.peer.PeerPermission what) {
            return false;
        }

        @Override
        public PeerConnection connect(String peer) throws EngineException.UnknownPeerException {
            throw new EngineException.UnknownPeerException(peer);
        }
    };

    private static Journal.Entry entry(Journal.Role role, Journal.State state, Map<String, String> fields) {
        return new Journal.Entry(TS, "m1", role, state, fields);
    }

    private static Map<String, String> start(SimGuest g, String peer) {
        return Map.of("domain", g.name(), "peer", peer, "guest", "HVM", "uuid", g.uuid().toString());
    }

    /** A fresh guest vm1 in the state the crash left it. */
    private SimGuest guest(boolean paused) throws Exception {
        Optional<SimGuest> old = host.guest("vm1");
        if (old.isPresent()) {
            old.get().destroy();
        }
        SimGuest g = host.createRunning("vm1", GuestType.HVM, 16, 1);
        if (paused) {
            g.pause();
        }
        return g;
    }

    /** Every byte-cut prefix and, per offset, one corrupted byte: the journals a start may find. */
    private static Stream<byte[]> variants(byte[] file) {
        List<byte[]> all = new ArrayList<>();
        for (int cut = 0; cut <= file.length; cut++) {
            all.add(java.util.Arrays.copyOf(file, cut));
        }
        for (int at = 0; at < file.length; at++) {
            byte[] c = file.clone();
            c[at] ^= (byte) (0x5A + at % 7);
            all.add(c);
        }
        return all.stream();
    }

    /** How many of the records written the journal replays from {@code bytes}. */
    private static int replayed(byte[] bytes, List<Journal.Entry> written) throws IOException {
        List<Journal.Entry> got = JournalReader.read(bytes).entries();
        assertEquals(written.subList(0, got.size()), got, "the replayed records are a prefix of those written");
        return got.size();
    }

    /** Starts an engine on {@code bytes} as the journal; returns m1's history entry, if any. */
    private Optional<MigrationSummary> recover(byte[] bytes) throws IOException {
        if (Files.exists(stateDir)) {
            try (Stream<Path> s = Files.list(stateDir)) {
                for (Path p : s.toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(stateDir);
        Path journal = stateDir.resolve(Journal.FILE_NAME);
        Files.write(journal, bytes);
        boolean damaged = JournalReader.read(bytes).scan().tail() == JournalReader.Tail.DAMAGED;
        try {
            return start();
        } catch (Journal.DamagedException e) {
            // an invalid record with valid ones after it: not a torn write; refused, and nothing changed
            assertTrue(damaged, "refused a journal the reader does not call damaged: " + e.getMessage());
            assertArrayEquals(bytes, Files.readAllBytes(journal), "a refused journal is left as it was");
            refusedAsDamaged++;
            // what the operator does next: the repair keeps the whole file and cuts the journal at the damage
            Journal.Repaired r = Journal.repairDamage(stateDir, java.time.Clock.systemUTC()).orElseThrow();
            assertEquals(e.offset(), r.offset());
            assertArrayEquals(bytes, Files.readAllBytes(r.keptAs()));
            return start();
        }
    }

    /** Variants the engine refused to start on as damaged in the middle (each then repaired and started). */
    private int refusedAsDamaged;

    private Optional<MigrationSummary> start() throws IOException {
        try (MigrationEngine engine = new MigrationEngine(EngineConfig.of("hostA", host, stateDir, NO_PEERS), r -> { })) {
            return engine.list().stream().filter(s -> s.info().id().equals("m1")).findFirst();
        }
    }

    /** What one variant left: the guest, how many records were replayed, m1's history entry, a label. */
    @FunctionalInterface
    private interface Check {
        void check(SimGuest g, int replayed, Optional<MigrationSummary> m1, String at) throws Exception;
    }

    /**
     * For every variant of the journal {@code journal} writes for a fresh guest (paused or running as the crash
     * left it): recovers, then checks.
     */
    private void everyVariant(boolean paused, java.util.function.Function<SimGuest, List<Journal.Entry>> journal, Check check)
            throws Exception {
        int size = JournalBytes.of(journal.apply(guest(paused))).length;
        for (int variant = 0; variant < 2 * size + 1; variant++) {
            SimGuest g = guest(paused);
            List<Journal.Entry> written = journal.apply(g);
            byte[] bytes = variants(JournalBytes.of(written)).skip(variant).findFirst().orElseThrow();
            int n = replayed(bytes, written);
            Optional<MigrationSummary> m1 = recover(bytes);
            check.check(g, n, m1, "variant " + variant + " of " + (2 * size + 1) + " (" + n + " records replayed)");
        }
        assertTrue(refusedAsDamaged > 0, "no variant was damaged in the middle: the refusal and the repair went untested");
    }

    private Optional<Journal.State> lastState() throws IOException {
        List<Journal.Entry> e = JournalReader.read(Files.readAllBytes(stateDir.resolve(Journal.FILE_NAME))).entries();
        return e.isEmpty() ? Optional.empty() : Optional.of(e.getLast().state());
    }

    @Test
    void everySingleByteValueAtEveryOffsetReplaysAPrefixOfTheRecordsUpToTheDamage() throws Exception {
        SimGuest g = guest(true);
        List<Journal.Entry> written = List.of(entry(Journal.Role.SOURCE, Journal.State.STARTED, start(g, "hostB")),
                entry(Journal.Role.SOURCE, Journal.State.PAUSING, Map.of()),
                entry(Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
        byte[] file = JournalBytes.of(written);
        int[] ends = JournalBytes.recordEnds(written);
        for (int at = 0; at < file.length; at++) {
            int damaged = 0;
            while (damaged < ends.length && ends[damaged] <= at) {
                damaged++;
            }
            int expected = at < 16 ? 0 : damaged; // a damaged header: the file is set aside, nothing replayed
            for (int v = 1; v < 256; v++) {
                byte[] c = file.clone();
                c[at] ^= (byte) v;
                assertEquals(expected, replayed(c, written), "byte " + at + " xor " + v);
            }
        }
    }

    @Test
    void aSourceThatMayHaveCommittedIsNeverResumedWhateverIsLeftOfItsJournal() throws Exception {
        // the engine paused the guest for stop-and-copy, then the daemon died
        everyVariant(true, JournalBytesRecoveryTest::sourceJournal, (g, n, m1, at) -> {
            assertFalse(g.running(), at + ": the source copy was resumed");
            assertFalse(g.destroyed(), at + ": the source copy was destroyed");
            switch (n) {
                case 0 -> assertTrue(m1.isEmpty(), at);
                case 1 -> { // STARTED only: the engine had not paused it; left as it is
                    assertTrue(m1.orElseThrow().phase() instanceof MigrationPhase.Failed, at + ": " + m1);
                    assertEquals(Optional.of(Journal.State.FAILED), lastState(), at);
                }
                default -> { // PAUSING or COMMITTING: in doubt until the destination or an operator decides
                    assertTrue(m1.orElseThrow().phase() instanceof MigrationPhase.InDoubt, at + ": " + m1);
                    assertEquals(Optional.of(sourceJournal(g).get(n - 1).state()), lastState(), at + ": nothing journaled yet");
                }
            }
        });
    }

    private static List<Journal.Entry> sourceJournal(SimGuest g) {
        return List.of(entry(Journal.Role.SOURCE, Journal.State.STARTED, start(g, "hostB")),
                entry(Journal.Role.SOURCE, Journal.State.PAUSING, Map.of()),
                entry(Journal.Role.SOURCE, Journal.State.COMMITTING, Map.of()));
    }

    private static List<Journal.Entry> destinationJournal(SimGuest g) {
        return List.of(entry(Journal.Role.DESTINATION, Journal.State.ACCEPTED, start(g, "hostA")),
                entry(Journal.Role.DESTINATION, Journal.State.COMMITTED, Map.of()));
    }

    @Test
    void aDestinationIsUnpausedOnlyWhenItsCommittedIsReplayed() throws Exception {
        // complete and paused: the daemon died between COMMITTED and the unpause
        everyVariant(true, JournalBytesRecoveryTest::destinationJournal, (g, n, m1, at) -> {
            switch (n) {
                case 0 -> { // nothing known of it: left alone (the source, asking, hears UNKNOWN)
                    assertTrue(m1.isEmpty(), at);
                    assertFalse(g.running(), at + ": unpaused without a COMMITTED");
                    assertFalse(g.destroyed(), at);
                }
                case 1 -> { // ACCEPTED: no Go, or its COMMITTED lost with the guest never unpaused: destroyed
                    assertFalse(g.running(), at + ": unpaused without a COMMITTED");
                    assertTrue(g.destroyed(), at);
                    assertEquals(Optional.of(Journal.State.FAILED), lastState(), at);
                }
                default -> {
                    assertTrue(g.running(), at + ": COMMITTED is durable, the guest must run");
                    assertEquals(Optional.of(Journal.State.DONE), lastState(), at);
                    assertTrue(m1.orElseThrow().phase() instanceof MigrationPhase.Done, at);
                }
            }
        });
    }

    @Test
    void aRunningDestinationWhoseCommittedIsLostIsLeftRunningNeverDestroyed() throws Exception {
        // unpaused after COMMITTED; the daemon died before DONE
        everyVariant(false, JournalBytesRecoveryTest::destinationJournal, (g, n, m1, at) -> {
            assertTrue(g.running(), at + ": the guest runs here and must go on running");
            assertFalse(g.destroyed(), at);
            if (n == 1) {
                assertTrue(m1.orElseThrow().phase() instanceof MigrationPhase.InDoubt, at + ": " + m1);
                assertEquals(Optional.of(Journal.State.ACCEPTED), lastState(), at + ": nothing journaled");
            }
        });
    }
}
