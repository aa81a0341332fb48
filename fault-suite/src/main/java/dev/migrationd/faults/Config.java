package dev.migrationd.faults;

import java.nio.file.Path;

/**
 * Where the suite finds what it runs, from system properties the launcher ({@code bin/fault-suite}) sets.
 */
final class Config {

    private Config() {
    }

    /** The JDK's java (the launcher's, else this JVM's). */
    static String java() {
        return System.getProperty("faults.java", ProcessHandle.current().info().command().orElse("java"));
    }

    /** The daemon's runtime class path: this module's {@code target/lib/*} (the daemon jar and its dependencies). */
    static String daemonClasspath() {
        String cp = System.getProperty("faults.daemonClasspath");
        if (cp == null) {
            throw new IllegalStateException("faults.daemonClasspath is not set; run the suite through bin/fault-suite");
        }
        return cp;
    }

    /** The directory every run keeps its scenarios under (logs of failures stay there). */
    static Path base() {
        return Path.of(System.getProperty("faults.base", "/var/tmp/migrationd-fault-suite"));
    }
}
