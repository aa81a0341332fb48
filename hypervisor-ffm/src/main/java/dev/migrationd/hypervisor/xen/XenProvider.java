package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.Hypervisor;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.HypervisorProvider;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code xen} backend. {@link #open} works only on a Xen dom0 (it needs {@code /dev/xen/privcmd} and
 * the Xen 4.17 tool libraries); anywhere else it fails at once with one line saying what to do. It never
 * falls back to another backend.
 */
public final class XenProvider implements HypervisorProvider {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(XenProvider.class);

    static final Path PRIVCMD = Path.of("/dev/xen/privcmd");

    private final Path privcmd;

    public XenProvider() {
        this(PRIVCMD);
    }

    XenProvider(Path privcmd) {
        this.privcmd = privcmd;
    }

    @Override
    public String name() {
        return "xen";
    }

    /** The one line printed off a Xen dom0. */
    static String notDom0(Path privcmd) {
        return "this host is not a Xen dom0 (" + privcmd + " not found); run migrationd on a Xen dom0, or use --backend sim";
    }

    @Override
    public Hypervisor open(Path stateDir) throws HypervisorException {
        if (!Files.exists(privcmd)) {
            throw new HypervisorException(XenNative.BACKEND, null, notDom0(privcmd));
        }
        LibXenCtrl ctrl = LibXenCtrl.open();
        LibXenForeignMemory fmem = null;
        try {
            fmem = LibXenForeignMemory.open();
            LibXenStore store = LibXenStore.open();
            return new XenHypervisor(ctrl, fmem, store, openToolstack());
        } catch (HypervisorException | RuntimeException e) {
            closeQuietly(fmem, e);
            closeQuietly(ctrl, e);
            throw e;
        }
    }

    /**
     * libxl for the toolstack half of PVH migrations, or null when it cannot be opened here: the backend then
     * pauses PVH guests instead of suspending them and cannot build incoming ones (said once, at start).
     */
    private static Toolstack openToolstack() {
        try {
            return LibXl.open();
        } catch (HypervisorException | RuntimeException | LinkageError e) {
            LOG.warn("event=libxl_unavailable backend=xen error=\"{}\" effect=\"PVH guests are paused, not suspended, and cannot be received\"",
                    e.getMessage());
            return null;
        }
    }

    private static void closeQuietly(AutoCloseable c, Exception cause) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            cause.addSuppressed(e);
        }
    }
}
