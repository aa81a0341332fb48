package dev.migrationd.hypervisor.ffm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The pipe a native reader (libxl) reads a stream from: what is written arrives whole, and each end's close is seen. */
class NativePipeTest {

    @Test
    void whatIsWrittenArrivesWholeAndTheCloseOfTheWriteEndEndsTheInput() throws Exception {
        byte[] data = new byte[5 * NativePipe.CHUNK + 123]; // more than the kernel's pipe buffer: the writer blocks
        new Random(7).nextBytes(data);
        try (NativePipe pipe = NativePipe.open()) {
            CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() -> {
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                try {
                    for (byte[] b = NativePipe.read(pipe.readFd(), 4096); b.length > 0; b = NativePipe.read(pipe.readFd(), 4096)) {
                        got.write(b);
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
                return got.toByteArray();
            });
            ByteBuffer direct = ByteBuffer.allocateDirect(1000).put(data, 0, 1000).flip();
            pipe.write(direct);
            assertEquals(0, direct.remaining(), "a direct buffer is consumed too");
            ByteBuffer rest = ByteBuffer.wrap(data, 1000, data.length - 1000);
            pipe.write(rest);
            assertEquals(0, rest.remaining());
            assertEquals(data.length, pipe.written());
            pipe.closeWrite();
            assertArrayEquals(data, reader.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void aWriterFailsOnceTheReaderClosedItsEndInsteadOfBlocking() throws Exception {
        try (NativePipe pipe = NativePipe.open()) {
            pipe.closeRead();
            IOException e = assertThrows(IOException.class, () -> pipe.write(ByteBuffer.allocate(10)));
            assertTrue(e.getMessage().contains("reader closed the pipe"), e.getMessage());
        }
    }

    @Test
    void aClosedWriteEndRefusesWritesAndClosesAreIdempotent() throws Exception {
        try (NativePipe pipe = NativePipe.open()) {
            pipe.closeWrite();
            pipe.closeWrite();
            assertEquals(0, NativePipe.read(pipe.readFd(), 16).length, "end of input");
            IOException e = assertThrows(IOException.class, () -> pipe.write(ByteBuffer.allocate(1)));
            assertTrue(e.getMessage().contains("write end is closed"), e.getMessage());
            pipe.closeRead();
            assertEquals(-1, pipe.readFd());
        }
    }
}
