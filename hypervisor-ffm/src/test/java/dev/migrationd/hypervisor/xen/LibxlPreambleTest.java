package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The preamble written ahead of the stream, and the check of the stream's own copy of it. */
class LibxlPreambleTest {

    /** A libxl stream's first bytes as this project's libxl writer writes them, then {@code tail}. */
    private static byte[] streamStart(boolean legacy, byte[] tail) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        LibxlWriter w = new LibxlWriter(b -> {
            byte[] a = new byte[b.remaining()];
            b.get(a);
            out.write(a);
        });
        w.writeHeader(new LibxlHeader(legacy));
        w.write(LibxlSignalRecord.LIBXC_CONTEXT);
        out.write(tail);
        return out.toByteArray();
    }

    @Test
    void whatIsWrittenAheadIsWhatAWriterWritesFirst() throws Exception {
        byte[] expected = streamStart(false, new byte[0]);
        ByteBuffer b = LibxlPreamble.bytes();
        byte[] got = new byte[b.remaining()];
        b.get(got);
        assertEquals(LibxlPreamble.BYTES, got.length);
        assertTrue(Arrays.equals(expected, got));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 7, 16, 23, 24, 25, 100})
    void theStreamsOwnCopyIsDroppedInAnySplitAndTheRestGoesOn(int split) throws Exception {
        byte[] tail = {1, 2, 3, 4, 5};
        for (boolean legacy : new boolean[] {false, true}) {
            byte[] s = streamStart(legacy, tail);
            LibxlPreamble p = new LibxlPreamble();
            ByteArrayOutputStream passed = new ByteArrayOutputStream();
            for (int at = 0; at < s.length; at += split) {
                ByteBuffer chunk = ByteBuffer.wrap(s, at, Math.min(split, s.length - at));
                if (!p.passed()) {
                    assertNull(p.consume(chunk));
                }
                passed.write(chunk.array(), chunk.position(), chunk.remaining());
            }
            assertTrue(p.passed());
            assertTrue(Arrays.equals(tail, passed.toByteArray()), "split " + split + " legacy " + legacy);
        }
    }

    @Test
    void aStreamThatDoesNotBeginAsLibxlsIsRefusedByName() throws Exception {
        byte[] good = streamStart(false, new byte[0]);
        assertTrue(refusal(good, 0, (byte) 0).contains("does not begin with a libxl v2 header (ident 0x"));
        assertTrue(refusal(good, 11, (byte) 3).contains("version 3"));
        assertTrue(refusal(good, 15, (byte) 1).contains("options 0x1"));
        assertTrue(refusal(good, 16, (byte) 2).contains("LIBXC_CONTEXT"));
        assertTrue(refusal(good, 20, (byte) 8).contains("LIBXC_CONTEXT"));
    }

    private static String refusal(byte[] good, int at, byte value) {
        byte[] bad = good.clone();
        bad[at] = value;
        LibxlPreamble p = new LibxlPreamble();
        assertNull(p.consume(ByteBuffer.wrap(bad, 0, 10)));
        assertFalse(p.passed());
        String why = p.consume(ByteBuffer.wrap(bad, 10, bad.length - 10));
        assertTrue(why != null, "byte " + at + " = " + value + " accepted");
        return why;
    }
}
