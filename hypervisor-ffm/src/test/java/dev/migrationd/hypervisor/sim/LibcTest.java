package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real failing libc calls reach the caller as NativeCallException with the call, its result and errno. */
class LibcTest {

    private static final int ENOENT = 2;

    @TempDir
    Path dir;

    @Test
    void aFailedOpenNamesThePathAndErrno() {
        String path = dir.resolve("missing/file").toString();
        NativeCallException e = assertThrows(NativeCallException.class, () -> Libc.open(path, Libc.O_RDWR, 0));
        assertEquals("open", e.call());
        assertEquals(-1, e.returnCode());
        assertEquals(ENOENT, e.errno());
        assertEquals("open(" + path + ") returned -1: errno 2 (No such file or directory)", e.problem());
        assertEquals("open: " + e.problem(), e.getMessage());
    }

    @Test
    void mapFailedIsAFailureAndAMappingIsNot() throws Exception {
        NativeCallException e = assertThrows(NativeCallException.class,
                () -> Libc.mmap(0, Libc.PROT_READ, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0));
        assertEquals(Libc.EINVAL, e.errno());
        assertEquals("mmap(length=0) returned -1: errno 22 (Invalid argument)", e.problem());

        MemorySegment m = Libc.mmap(4096, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        assertTrue(m.address() > 0 && m.address() % 4096 == 0, "a page-aligned user-space address");
        Libc.munmap(m, 4096);
    }
}
