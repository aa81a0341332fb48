package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link XenStore} over FFM downcalls to {@code libxenstore.so.4} ({@code xenstore.h}); {@code free} from
 * libc releases what {@code xs_read} returns. Safe for concurrent use (libxenstore locks its handle).
 */
final class LibXenStore implements XenStore {

    static final String SONAME = "libxenstore.so.4";
    private static final String PACKAGE = "libxenstore4";
    /** {@code XBT_NULL}: no transaction. */
    private static final int XBT_NULL = 0;
    /** ENOENT: xs_read/xs_rm of a node that does not exist. */
    private static final int ENOENT = 2;
    /** Longest value we accept from xenstore (XENSTORE_PAYLOAD_MAX is 4096). */
    static final int MAX_VALUE = 4096;

    static final Map<String, FunctionDescriptor> SIGNATURES = new LinkedHashMap<>();

    static {
        // struct xs_handle *xs_open(unsigned long flags)
        SIGNATURES.put("xs_open", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        // void xs_close(struct xs_handle *)
        SIGNATURES.put("xs_close", FunctionDescriptor.ofVoid(ADDRESS));
        // void *xs_read(struct xs_handle *, xs_transaction_t, const char *path, unsigned int *len)
        SIGNATURES.put("xs_read", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // bool xs_write(struct xs_handle *, xs_transaction_t, const char *path, const void *data, unsigned int len)
        SIGNATURES.put("xs_write", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        // bool xs_rm(struct xs_handle *, xs_transaction_t, const char *path)
        SIGNATURES.put("xs_rm", FunctionDescriptor.of(JAVA_BOOLEAN, ADDRESS, JAVA_INT, ADDRESS));
    }

    private static final MethodHandle FREE = NativeCalls.LINKER.downcallHandle(
            NativeCalls.LINKER.defaultLookup().find("free").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));

    private static final XenNative.Bindings BINDINGS = new XenNative.Bindings(SONAME, PACKAGE, SIGNATURES);

    /** All handles, binding them on first use; one clear message when the library is unusable. */
    static Map<String, MethodHandle> handles() throws HypervisorException {
        return BINDINGS.handles();
    }

    private final Map<String, MethodHandle> h;
    private final MemorySegment xsh;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LibXenStore(Map<String, MethodHandle> h, MemorySegment xsh) {
        this.h = h;
        this.xsh = xsh;
    }

    /** {@code xs_open(0)}. */
    static LibXenStore open() throws HypervisorException {
        Map<String, MethodHandle> h = handles();
        MethodHandle open = h.get("xs_open");
        return new LibXenStore(h, NativeCalls.callForPointer("xs_open", null, "flags=0",
                (err, a) -> (MemorySegment) open.invokeExact(err, 0L)));
    }

    @Override
    public Optional<String> read(String path) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            MemorySegment len = a.allocate(JAVA_INT);
            MemorySegment value = (MemorySegment) h.get("xs_read").invokeExact(err, xsh, XBT_NULL, a.allocateFrom(path), len);
            if (value.equals(MemorySegment.NULL)) {
                if (NativeCalls.errno(err) == ENOENT) {
                    return Optional.empty();
                }
                throw XenNative.failure("xs_read", null, "t=XBT_NULL, path=" + path, 0, err);
            }
            try {
                int n = len.get(JAVA_INT, 0);
                if (n < 0 || n > MAX_VALUE) {
                    throw new HypervisorException("xs_read", null, "value of " + path + " is " + Integer.toUnsignedString(n)
                            + " bytes, more than " + MAX_VALUE);
                }
                return Optional.of(new String(value.reinterpret(n).toArray(JAVA_BYTE), StandardCharsets.UTF_8));
            } finally {
                FREE.invokeExact(value);
            }
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xs_read failed", t);
        }
    }

    @Override
    public void write(String path, String value) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            MemorySegment data = a.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, data, JAVA_BYTE, 0, bytes.length);
            boolean ok = (boolean) h.get("xs_write").invokeExact(err, xsh, XBT_NULL, a.allocateFrom(path), data, bytes.length);
            if (!ok) {
                throw XenNative.failure("xs_write", null, "t=XBT_NULL, path=" + path + ", len=" + bytes.length, 0, err);
            }
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xs_write failed", t);
        }
    }

    @Override
    public void remove(String path) throws HypervisorException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = NativeCalls.errnoBuffer(a);
            boolean ok = (boolean) h.get("xs_rm").invokeExact(err, xsh, XBT_NULL, a.allocateFrom(path));
            if (!ok && NativeCalls.errno(err) != ENOENT) {
                throw XenNative.failure("xs_rm", null, "t=XBT_NULL, path=" + path, 0, err);
            }
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xs_rm failed", t);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            h.get("xs_close").invokeExact(NativeCalls.errnoBuffer(a), xsh);
        } catch (Throwable t) {
            throw new IllegalStateException("downcall xs_close failed", t);
        }
    }
}
