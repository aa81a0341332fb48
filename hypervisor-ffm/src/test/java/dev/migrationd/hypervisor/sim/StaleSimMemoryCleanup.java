package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.sim.SimHypervisor;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * At the end of a test run, removes the sim guest memory (in /dev/shm) of every state directory the run deleted:
 * tests leave their guests running in temporary state directories, and RAM is not freed with the directory.
 */
public final class StaleSimMemoryCleanup implements LauncherSessionListener {

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        SimHypervisor.removeStaleMemory();
    }
}
