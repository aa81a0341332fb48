package dev.migrationd.hypervisor.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.ffm.NativeCallException;
import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The free-space probe the sim uses before it fills a guest's memory file: {@code statvfs(2)} on the
 * directory itself, checked against the C compiler's view of the struct and against coreutils' {@code stat -f},
 * which makes the same call.
 */
class LibcStatvfsTest {

    @TempDir
    Path dir;

    @Test
    void theLayoutMatchesGlibc() throws Exception {
        Path gcc = Path.of("/usr/bin/gcc");
        assertTrue(Files.isExecutable(gcc), "gcc is missing (Debian package gcc); this layout check needs it");
        Path c = dir.resolve("statvfs.c");
        Files.writeString(c, """
                #include <stddef.h>
                #include <stdio.h>
                #include <sys/statvfs.h>
                int main(void) {
                    printf("%zu %zu %zu %zu %zu %zu\\n", sizeof(struct statvfs), offsetof(struct statvfs, f_bsize),
                           offsetof(struct statvfs, f_frsize), offsetof(struct statvfs, f_blocks),
                           offsetof(struct statvfs, f_bfree), offsetof(struct statvfs, f_bavail));
                    return 0;
                }
                """);
        Path exe = dir.resolve("statvfs");
        assertEquals("", run(gcc.toString(), "-o", exe.toString(), c.toString()));
        String[] fromC = run(exe.toString()).strip().split(" ");
        assertEquals(Long.parseLong(fromC[0]), Libc.STATVFS_LAYOUT.byteSize(), "sizeof(struct statvfs)");
        String[] names = {"f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail"};
        for (int i = 0; i < names.length; i++) {
            assertEquals(Long.parseLong(fromC[i + 1]),
                    Libc.STATVFS_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(names[i])), names[i]);
        }
    }

    @Test
    void itAgreesWithStatDashF() throws Exception {
        Libc.FileSystemSpace mine = Libc.statvfs(dir.toString());
        // %S fundamental block size (f_frsize), %b total blocks, %a blocks free for a user (f_bavail)
        String[] theirs = run("stat", "-f", "-c", "%S %b %a", dir.toString()).strip().split(" ");
        assertEquals(Long.parseLong(theirs[0]), mine.fragmentSize());
        assertEquals(Long.parseLong(theirs[1]), mine.blocks());
        long available = Long.parseLong(theirs[2]);
        // others write to this file system meanwhile: allow 1% of its size between the two readings
        assertTrue(Math.abs(available - mine.availableBlocks()) <= mine.blocks() / 100,
                "f_bavail " + mine.availableBlocks() + " vs stat -f " + available);
        assertEquals(mine.availableBlocks() * mine.fragmentSize(), mine.usableBytes());
    }

    @Test
    void aMissingDirectoryIsNamedWithItsErrno() {
        Path missing = dir.resolve("no/such/dir");
        NativeCallException e = assertThrows(NativeCallException.class, () -> Libc.statvfs(missing.toString()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertEquals(2, e.errno(), e.getMessage()); // ENOENT
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
