package dev.migrationd.hypervisor;

import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * An incoming guest being built by the host's toolstack from a save stream
 * ({@link Hypervisor#restoreFromStream}). The caller writes the toolstack's stream format (Xen: libxl v2) as it
 * arrives, then either {@link #finish}es (the stream is complete: the built domain, PAUSED) or {@link #abort}s
 * (nothing it built is left on the host).
 *
 * <p>Threads: one thread (the migration's) calls {@link #write}, {@link #finish} and {@link #abort}; the
 * toolstack runs on a thread of its own that the implementation owns and always joins before
 * {@link #finish} or {@link #abort} returns (or says that it could not).
 */
public interface StreamRestore extends AutoCloseable {

    /** Passes {@code bytes} (all of them) to the toolstack; blocks while it is behind. */
    void write(ByteBuffer bytes) throws HypervisorException;

    /**
     * The stream is complete: waits at most {@code timeout} for the toolstack to finish the build, and returns
     * the domain it built, paused. On failure nothing built is left and the exception says why.
     */
    Domain finish(Duration timeout) throws HypervisorException;

    /** Gives up (idempotent): the toolstack's input is closed, it is waited for, and whatever it built is destroyed. */
    void abort(String reason) throws HypervisorException;

    /** Aborts unless {@link #finish} returned a domain. */
    @Override
    void close() throws HypervisorException;
}
