package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.StreamRestore;
import dev.migrationd.hypervisor.ToolstackConfig;
import dev.migrationd.hypervisor.ffm.NativePipe;
import dev.migrationd.protocol.GuestType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An incoming guest built by libxl ({@link Toolstack#createRestore}) from the libxl v2 stream this side writes
 * into a pipe, as {@code xl migrate-receive} builds one from its socket. The build runs on a platform thread of
 * its own ("toolstack-restore-NAME"), which reads the pipe; the migration's thread writes it.
 *
 * <p>Start: the header and LIBXC_CONTEXT record every libxl stream begins with go into the pipe at once
 * ({@link LibxlPreamble}: libxl must not meet the end of its input before them), and the stream's own copy of them
 * is checked and dropped.
 *
 * <p>Ending: {@link #finish} closes the write end and waits for libxl, which has read up to the stream's END by
 * then; {@link #abort} closes the write end (libxl sees a truncated stream, fails and destroys what it built),
 * waits for the build thread, and destroys any domain of this name and UUID that is still there.
 * Threads: {@link #write}, {@link #finish}, {@link #abort} from the one migration thread; {@link #result} is
 * completed by the build thread.
 */
final class XenStreamRestore implements StreamRestore {

    private static final Logger LOG = LoggerFactory.getLogger(XenStreamRestore.class);

    /** How long an abort waits for libxl to notice the closed stream and clean up after itself. */
    static final Duration ABORT_WAIT = Duration.ofSeconds(120);

    private final XenHypervisor hv;
    private final Toolstack toolstack;
    private final String name;
    private final UUID uuid;
    private final NativePipe pipe;
    private final CompletableFuture<Integer> result = new CompletableFuture<>();
    private final Thread builder;
    /** The stream's own first bytes, checked against what {@link #start} wrote in their place. */
    private final LibxlPreamble preamble = new LibxlPreamble();
    // owned by the migration thread
    private boolean ended;
    /** An abort removed everything: later aborts do nothing. */
    private boolean cleaned;
    private Domain built;

    private XenStreamRestore(XenHypervisor hv, Toolstack toolstack, String name, UUID uuid, NativePipe pipe, String json) {
        this.hv = hv;
        this.toolstack = toolstack;
        this.name = name;
        this.uuid = uuid;
        this.pipe = pipe;
        this.builder = Thread.ofPlatform().name("toolstack-restore-" + name).daemon().unstarted(() -> build(json));
    }

    static XenStreamRestore start(XenHypervisor hv, Toolstack toolstack, String name, UUID uuid, ToolstackConfig config)
            throws HypervisorException {
        NativePipe pipe;
        try {
            pipe = NativePipe.open();
        } catch (IOException e) {
            throw new HypervisorException("restoreFromStream", name, e.getMessage());
        }
        XenStreamRestore r = new XenStreamRestore(hv, toolstack, name, uuid, pipe, config.json());
        try {
            pipe.write(LibxlPreamble.bytes()); // fits the pipe's buffer: nothing reads it yet
        } catch (IOException e) {
            pipe.close();
            throw new HypervisorException("restoreFromStream", name, "cannot write the stream's preamble: " + e.getMessage());
        }
        r.builder.start();
        LOG.info("event=toolstack_restore_started backend=xen domain={} uuid={}", name, uuid);
        return r;
    }

    private void build(String json) {
        try {
            result.complete(toolstack.createRestore(json, name, pipe.readFd()));
        } catch (Throwable t) {
            result.completeExceptionally(t);
        } finally {
            pipe.closeRead(); // a writer still writing fails at once instead of blocking
        }
    }

    @Override
    public void write(ByteBuffer bytes) throws HypervisorException {
        if (ended) {
            throw new IllegalStateException("write after the restore ended");
        }
        if (!preamble.passed()) {
            String wrong = preamble.consume(bytes);
            if (wrong != null) {
                throw new HypervisorException("libxl_domain_create_restore", name, wrong);
            }
        }
        try {
            pipe.write(bytes);
        } catch (IOException e) {
            throw failure("libxl stopped reading the stream (" + e.getMessage() + ")");
        }
    }

    /** The build's own failure when it has one (libxl's return code), else {@code what}. */
    private HypervisorException failure(String what) {
        try {
            result.get(Math.min(ABORT_WAIT.toMillis(), 10_000), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return e.getCause() instanceof HypervisorException h ? h
                    : new HypervisorException("libxl_domain_create_restore", name, String.valueOf(e.getCause()));
        } catch (TimeoutException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
        return new HypervisorException("libxl_domain_create_restore", name, what);
    }

    @Override
    public Domain finish(Duration timeout) throws HypervisorException {
        if (built != null) {
            return built;
        }
        if (ended) {
            throw new IllegalStateException("finish after an abort");
        }
        pipe.closeWrite();
        int domid;
        try {
            domid = result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            ended = true;
            join();
            throw e.getCause() instanceof HypervisorException h ? h
                    : new HypervisorException("libxl_domain_create_restore", name, String.valueOf(e.getCause()));
        } catch (TimeoutException e) {
            abort("libxl did not finish the build within " + timeout.toMillis() + " ms of the stream's end");
            throw new HypervisorException("libxl_domain_create_restore", name, "no result within " + timeout.toMillis()
                    + " ms of the stream's end; what it built was destroyed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abort("interrupted");
            throw new HypervisorException("libxl_domain_create_restore", name, "interrupted");
        }
        ended = true;
        join();
        pipe.close();
        built = new XenDomain(hv, domid, name, GuestType.HVM, null);
        LOG.info("event=toolstack_restore_built backend=xen domain={} domid={} stream_bytes={}", name, domid, pipe.written());
        return built;
    }

    private void join() {
        try {
            builder.join(ABORT_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void abort(String reason) throws HypervisorException {
        if (built != null || cleaned) {
            return;
        }
        boolean first = !ended;
        ended = true;
        pipe.closeWrite();
        join();
        if (builder.isAlive()) {
            LOG.warn("event=toolstack_restore_abort_slow backend=xen domain={} waited_ms={}", name, ABORT_WAIT.toMillis());
        }
        if (result.isDone() && !result.isCompletedExceptionally()) {
            int domid = result.join();
            toolstack.destroy(domid); // built after all (the stream was complete): not wanted any more
        }
        // libxl destroys a domain whose build failed; one still listed under this name and UUID is ours to remove
        var left = hv.findDomain(name);
        if (left.isPresent() && left.get().info().uuid().equals(uuid)) {
            left.get().destroy();
        }
        if (!builder.isAlive()) {
            pipe.close();
        }
        cleaned = true;
        if (first) {
            LOG.info("event=toolstack_restore_aborted backend=xen domain={} reason=\"{}\"", name, reason);
        }
    }

    @Override
    public void close() throws HypervisorException {
        abort("closed");
    }
}
