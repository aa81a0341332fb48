package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.DirtyBitmap;
import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.GuestMemory;
import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Helpers shared by the sim tests, including a small test-only pre-copy saver (direct page copies). */
final class SimTestSupport {

    static final Logger LOG = LoggerFactory.getLogger(SimTestSupport.class);
    static final long MIB = 1 << 20;

    private SimTestSupport() {
    }

    /** Waits until {@code cond} holds, polling; fails after {@code timeoutMs}. */
    static void await(String what, long timeoutMs, BooleanSupplier cond) throws InterruptedException {
        long end = System.nanoTime() + timeoutMs * 1_000_000;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    static long counter(SimDomain d) {
        try {
            return d.workloadCounter();
        } catch (HypervisorException e) {
            throw new AssertionError(e);
        }
    }

    static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Copies every page set in {@code pages} from src to dst (data pages with writePage, others with populateOnly). */
    static long copyPages(Domain src, Domain dst, DirtyBitmap pages) throws HypervisorException {
        long[] batch = new long[StreamLimits.MAX_BATCH_SIZE];
        int n = 0;
        long sent = 0;
        for (long pfn = pages.nextSetBit(0); pfn >= 0; pfn = pages.nextSetBit(pfn + 1)) {
            batch[n++] = pfn;
            if (n == batch.length) {
                sent += copyBatch(src.memory(), dst.memory(), batch, n);
                n = 0;
            }
        }
        if (n > 0) {
            sent += copyBatch(src.memory(), dst.memory(), batch, n);
        }
        return sent;
    }

    private static int copyBatch(GuestMemory src, GuestMemory dst, long[] pfns, int n) throws HypervisorException {
        try (GuestMemory.PageMapping m = src.mapForRead(pfns, 0, n)) {
            for (int i = 0; i < m.count(); i++) {
                if (m.type(i).hasData()) {
                    dst.writePage(m.pfn(i), m.type(i), m.page(i));
                } else {
                    dst.populateOnly(m.pfn(i), m.type(i));
                }
            }
            return m.count();
        }
    }

    /** Copies vCPU and platform state from a paused src to a paused dst. */
    static void copyPlatform(Domain src, Domain dst, GuestType type) throws HypervisorException {
        PlatformState s = src.platform();
        PlatformState d = dst.platform();
        if (type == GuestType.PV) {
            d.setP2mFrameList(s.p2mFrameList());
            for (int v = s.onlineVcpus().nextSetBit(0); v >= 0; v = s.onlineVcpus().nextSetBit(v + 1)) {
                d.setPvVcpuContext(v, s.pvVcpuContext(v));
                d.setPvExtendedContext(v, s.pvExtendedContext(v));
                d.setPvXsave(v, s.pvXsave(v));
            }
            d.setSharedInfo(s.sharedInfo());
        } else {
            for (Map.Entry<Integer, Long> p : s.hvmParams().entrySet()) {
                d.setHvmParam(p.getKey(), p.getValue());
            }
            d.setHvmContext(s.hvmContext());
        }
        d.setTscInfo(s.tscInfo());
    }

    /**
     * A test-only live migration by direct copies: round 0 (all populated pages), {@code rounds} pre-copy
     * rounds from the dirty log, then the final round with the source paused, then platform state. The
     * source stays paused; the destination is built paused.
     */
    static Domain migrate(Domain src, Hypervisor dstHv, String newName, int rounds) throws HypervisorException {
        DomainInfo info = src.info();
        Domain dst = dstHv.createForRestore(new DomainShape(newName, info.uuid(), info.p2mSize(), info.vcpus(),
                info.guestType(), info.guestWidth()));
        try (DirtyBitmap bm = new DirtyBitmap(info.p2mSize())) {
            src.dirtyLog().enable();
            src.memory().populated(bm);
            long sent = copyPages(src, dst, bm);
            for (int r = 1; r <= rounds; r++) {
                sleepQuietly(20); // let the guest dirty pages: the rounds then carry real work
                src.dirtyLog().fetchAndClear(bm);
                sent += copyPages(src, dst, bm);
            }
            sleepQuietly(20);
            src.pause();
            src.dirtyLog().fetchAndClear(bm);
            long last = copyPages(src, dst, bm);
            src.dirtyLog().disable();
            copyPlatform(src, dst, info.guestType());
            LOG.info("event=test_migration domain={} pages_sent={} final_round={}", info.name(), sent + last, last);
            return dst;
        } catch (HypervisorException | RuntimeException e) {
            dst.destroy();
            throw e;
        }
    }

    /** Deletes a directory tree (a test's state directory). */
    static void deleteTree(java.nio.file.Path dir) throws java.io.IOException {
        AtomicFiles.deleteTree(dir);
    }

    /** Copies a directory tree (regular files and directories only). */
    static void copyTree(java.nio.file.Path from, java.nio.file.Path to) throws java.io.IOException {
        try (var s = java.nio.file.Files.walk(from)) {
            for (java.nio.file.Path p : s.toList()) {
                java.nio.file.Path t = to.resolve(from.relativize(p).toString());
                if (java.nio.file.Files.isDirectory(p)) {
                    java.nio.file.Files.createDirectories(t);
                } else {
                    java.nio.file.Files.copy(p, t);
                }
            }
        }
    }
}
