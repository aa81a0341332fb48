package dev.migrationd.faults;

import dev.migrationd.daemon.transport.PeerFrame;
import dev.migrationd.daemon.transport.proto.Envelope;
import dev.migrationd.daemon.transport.proto.Query;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;

/**
 * Asks a daemon, as a source in doubt would, what it knows of a migration: a {@code Query} on a new peer
 * connection, answered by a {@code QueryAnswer}. Lets a scenario check a destination's durable answer
 * directly (for example after a crash during journal compaction).
 */
final class PeerQuery {

    /** Longest wait for the answer (the daemon may wait for a live migration to decide first). */
    static final int ANSWER_TIMEOUT_MILLIS = 30_000;

    private PeerQuery() {
    }

    /** The resolution's name (RESOLUTION_COMMITTED, ...). */
    static String ask(String ip, int port, String migrationId) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(FaultProxy.address(ip, port), 10_000);
            s.setSoTimeout(ANSWER_TIMEOUT_MILLIS);
            byte[] body = Envelope.newBuilder().setQuery(Query.newBuilder().setMigrationId(migrationId)).build().toByteArray();
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.writeByte(PeerFrame.TYPE_ENVELOPE);
            out.writeInt(body.length);
            out.write(body);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte type = in.readByte();
            int length = in.readInt();
            if (type != PeerFrame.TYPE_ENVELOPE || length < 1 || length > PeerFrame.MAX_ENVELOPE_BYTES) {
                throw new IOException("not an envelope frame: type " + type + " length " + length);
            }
            byte[] answer = new byte[length];
            in.readFully(answer);
            Envelope e = Envelope.parseFrom(answer);
            if (!e.hasQueryAnswer()) {
                throw new IOException("answered " + e.getBodyCase() + " instead of QueryAnswer");
            }
            return e.getQueryAnswer().getResolution().name();
        }
    }
}
