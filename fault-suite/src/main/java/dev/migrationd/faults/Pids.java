package dev.migrationd.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;

/**
 * The processes this run started (daemons, faultfs), one PID a line in {@code <base>/pids}, so that the
 * launcher's trap can end exactly those, by id, even if this JVM itself was killed.
 */
final class Pids {

    private Pids() {
    }

    static synchronized void record(long pid) {
        try {
            Files.createDirectories(Config.base());
            Files.writeString(Config.base().resolve("pids"), pid + "\n", StandardCharsets.US_ASCII,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.err.println("fault-suite: cannot record pid " + pid + ": " + e.getMessage());
        }
    }
}
