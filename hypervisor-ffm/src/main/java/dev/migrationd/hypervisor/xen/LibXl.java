package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The toolstack half of a migration through libxl
 * ({@code libxenlight.so.4.17}) over FFM, while page transfer and dirty tracking stay ours. Source side: the
 * domain's configuration as libxl's JSON ({@link #configJson}), the cooperative suspend before the final round
 * ({@link #suspendOnly}), the cooperative resume when the migration fails ({@link #resume}), destroy after the
 * commit. Destination side: a new domain built from that JSON and a libxl v2 stream read from a file descriptor
 * ({@link #createRestore}; the domain is left paused, as {@code xl migrate-receive} leaves it until "go"),
 * renamed at the commit point ({@link #rename}) and unpaused.
 *
 * <p>Every call is synchronous ({@code ao_how} = NULL: libxl runs its event loop in the calling thread until the
 * operation ends) and blocks that thread. The context's child processes ({@code libxl-save-helper}, found by
 * libxl at its compiled-in path {@code /usr/lib/xen-4.17/bin/libxl-save-helper}) are reaped by libxl's own
 * SIGCHLD handler in "selective reap" mode, so that the JVM's own children are left to the JVM. libxl logs
 * through a xentoollog stdio logger on the process's stderr. libxl serialises calls on one context internally;
 * one instance per process.
 *
 * <p>Structure sizes and offsets are those of Debian's Xen 4.17 headers on x86_64 ({@code sizeof}/{@code offsetof}
 * compiled against {@code libxl.h}): the structures are opaque here, initialised and disposed of by libxl's own
 * {@code _init}/{@code _dispose} functions; only the fields named below are read or written.
 */
final class LibXl implements Toolstack {

    static final String SONAME = "libxenlight.so.4.17";
    static final String TOOLLOG_SONAME = "libxentoollog.so.1";
    private static final String PACKAGE = "libxenmisc4.17";
    private static final String TOOLLOG_PACKAGE = "libxentoollog1";

    /** sizeof(libxl_domain_config). */
    static final long DOMAIN_CONFIG_SIZE = 1288;
    /** offsetof(libxl_domain_config, c_info) + offsetof(libxl_domain_create_info, name): a malloc'd char *. */
    static final long CONFIG_NAME_OFFSET = 24;
    /** sizeof(libxl_domain_restore_params); stream_version is the uint32_t at offset 4. */
    static final long RESTORE_PARAMS_SIZE = 24;
    static final long RESTORE_PARAMS_STREAM_VERSION_OFFSET = 4;
    /** sizeof(libxl_dominfo); domain_type (libxl_domain_type, an int) at offset 112. */
    static final long DOMINFO_SIZE = 120;
    static final long DOMINFO_DOMAIN_TYPE_OFFSET = 112;
    /** sizeof(libxl_childproc_hooks): int chldowner, then two function pointers. */
    static final long CHILDPROC_HOOKS_SIZE = 24;

    /** The longest JSON configuration read back from libxl (they are a few KiB). */
    static final long MAX_JSON = 1 << 20;

    /** libxl_sigchld_owner_libxl_always_selective_reap: libxl reaps only its own children. */
    static final int SIGCHLD_OWNER_LIBXL_ALWAYS_SELECTIVE_REAP = 3;
    /** xentoollog_level XTL_PROGRESS: progress and above (XTL_DEBUG = 1 … XTL_CRITICAL = 9). */
    static final int XTL_PROGRESS = 4;
    /** LIBXL_VERSION for libxl_ctx_alloc. */
    static final int LIBXL_VERSION = 0;
    /** The stream version libxl_domain_restore_params takes for a libxl v2 stream (1 would mean legacy). */
    static final int STREAM_VERSION_V2 = 2;

    /** libxl_domain_type. */
    enum DomainType {
        INVALID, HVM, PV, PVH;

        static DomainType of(int v) {
            return switch (v) {
                case 1 -> HVM;
                case 2 -> PV;
                case 3 -> PVH;
                default -> INVALID;
            };
        }
    }

    static final Map<String, FunctionDescriptor> SIGNATURES = new LinkedHashMap<>();
    static final Map<String, FunctionDescriptor> TOOLLOG_SIGNATURES = new LinkedHashMap<>();

    static {
        // int libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags, xentoollog_logger *lg)
        SIGNATURES.put("libxl_ctx_alloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        SIGNATURES.put("libxl_ctx_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // void libxl_childproc_setmode(libxl_ctx *, const libxl_childproc_hooks *, void *user)
        SIGNATURES.put("libxl_childproc_setmode", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
        SIGNATURES.put("libxl_domain_config_init", FunctionDescriptor.ofVoid(ADDRESS));
        SIGNATURES.put("libxl_domain_config_dispose", FunctionDescriptor.ofVoid(ADDRESS));
        // int libxl_retrieve_domain_configuration(libxl_ctx *, uint32_t, libxl_domain_config *, const libxl_asyncop_how *)
        SIGNATURES.put("libxl_retrieve_domain_configuration", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // char *libxl_domain_config_to_json(libxl_ctx *, libxl_domain_config *)
        SIGNATURES.put("libxl_domain_config_to_json", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        // int libxl_domain_config_from_json(libxl_ctx *, libxl_domain_config *, const char *)
        SIGNATURES.put("libxl_domain_config_from_json", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        // int libxl_domain_suspend_only(libxl_ctx *, uint32_t, const libxl_asyncop_how *)
        SIGNATURES.put("libxl_domain_suspend_only", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        // int libxl_domain_resume(libxl_ctx *, uint32_t, int suspend_cancel, const libxl_asyncop_how *)
        SIGNATURES.put("libxl_domain_resume", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        SIGNATURES.put("libxl_domain_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        SIGNATURES.put("libxl_domain_pause", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        SIGNATURES.put("libxl_domain_unpause", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        // int libxl_domain_rename(libxl_ctx *, uint32_t, const char *old_name, const char *new_name)
        SIGNATURES.put("libxl_domain_rename", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        // int libxl_name_to_domid(libxl_ctx *, const char *name, uint32_t *domid)
        SIGNATURES.put("libxl_name_to_domid", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        SIGNATURES.put("libxl_domain_restore_params_init", FunctionDescriptor.ofVoid(ADDRESS));
        SIGNATURES.put("libxl_domain_restore_params_dispose", FunctionDescriptor.ofVoid(ADDRESS));
        // int libxl_domain_create_restore(libxl_ctx *, libxl_domain_config *, uint32_t *domid, int restore_fd,
        //     int send_back_fd, const libxl_domain_restore_params *, const libxl_asyncop_how *,
        //     const libxl_asyncprogress_how *aop_console_how)
        SIGNATURES.put("libxl_domain_create_restore",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        SIGNATURES.put("libxl_dominfo_init", FunctionDescriptor.ofVoid(ADDRESS));
        SIGNATURES.put("libxl_dominfo_dispose", FunctionDescriptor.ofVoid(ADDRESS));
        // int libxl_domain_info(libxl_ctx *, libxl_dominfo *info_r, uint32_t domid)
        SIGNATURES.put("libxl_domain_info", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));

        // xentoollog_logger_stdiostream *xtl_createlogger_stdiostream(FILE *, xentoollog_level, unsigned flags)
        TOOLLOG_SIGNATURES.put("xtl_createlogger_stdiostream", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        TOOLLOG_SIGNATURES.put("xtl_logger_destroy", FunctionDescriptor.ofVoid(ADDRESS));
    }

    private static final XenNative.Bindings BINDINGS = new XenNative.Bindings(SONAME, PACKAGE, SIGNATURES);
    private static final XenNative.Bindings TOOLLOG = new XenNative.Bindings(TOOLLOG_SONAME, TOOLLOG_PACKAGE, TOOLLOG_SIGNATURES);

    private static final MethodHandle FREE = libc("free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle STRDUP = libc("strdup", FunctionDescriptor.of(ADDRESS, ADDRESS));

    private static MethodHandle libc(String name, FunctionDescriptor fd) {
        return NativeCalls.LINKER.downcallHandle(NativeCalls.LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    private final Map<String, MethodHandle> h;
    private final Map<String, MethodHandle> log;
    private final Arena arena; // owns the childproc hooks, which must outlive the context
    private final MemorySegment ctx;
    private final MemorySegment logger;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LibXl(Map<String, MethodHandle> h, Map<String, MethodHandle> log, Arena arena, MemorySegment ctx, MemorySegment logger) {
        this.h = h;
        this.log = log;
        this.arena = arena;
        this.ctx = ctx;
        this.logger = logger;
    }

    /** A libxl context logging at {@code XTL_PROGRESS} and above to stderr, with selective SIGCHLD reaping. */
    static LibXl open() throws HypervisorException {
        Map<String, MethodHandle> h = BINDINGS.handles();
        Map<String, MethodHandle> log = TOOLLOG.handles();
        Arena arena = Arena.ofShared();
        try {
            MemorySegment stderrVar = NativeCalls.LINKER.defaultLookup().find("stderr").orElseThrow().reinterpret(ADDRESS.byteSize());
            MemorySegment stderr = stderrVar.get(ADDRESS, 0);
            MemorySegment err = NativeCalls.errnoBuffer(arena);
            MemorySegment logger = (MemorySegment) log.get("xtl_createlogger_stdiostream").invokeExact(err, stderr, XTL_PROGRESS, 0);
            if (logger.equals(MemorySegment.NULL)) {
                throw XenNative.failure("xtl_createlogger_stdiostream", null, "f=stderr, min_level=XTL_PROGRESS, flags=0", 0, err);
            }
            MemorySegment pctx = arena.allocate(ADDRESS);
            int rc = (int) h.get("libxl_ctx_alloc").invokeExact(err, pctx, LIBXL_VERSION, 0, logger);
            if (rc != 0) {
                log.get("xtl_logger_destroy").invokeExact(err, logger);
                throw libxlFailure("libxl_ctx_alloc", null, "version=0, flags=0", rc);
            }
            MemorySegment ctx = pctx.get(ADDRESS, 0);
            MemorySegment hooks = arena.allocate(CHILDPROC_HOOKS_SIZE, 8);
            hooks.set(JAVA_INT, 0, SIGCHLD_OWNER_LIBXL_ALWAYS_SELECTIVE_REAP);
            h.get("libxl_childproc_setmode").invokeExact(err, ctx, hooks, MemorySegment.NULL);
            return new LibXl(h, log, arena, ctx, logger);
        } catch (HypervisorException e) {
            arena.close();
            throw e;
        } catch (Throwable t) {
            arena.close();
            throw new IllegalStateException("libxl context set-up failed", t);
        }
    }

    /** libxl's error codes (libxl_types.idl, libxl_error), for messages. */
    static String errorName(int rc) {
        return switch (rc) {
            case -1 -> "ERROR_NONSPECIFIC";
            case -2 -> "ERROR_VERSION";
            case -3 -> "ERROR_FAIL";
            case -4 -> "ERROR_NI";
            case -5 -> "ERROR_NOMEM";
            case -6 -> "ERROR_INVAL";
            case -7 -> "ERROR_BADFAIL";
            case -8 -> "ERROR_GUEST_TIMEDOUT";
            case -9 -> "ERROR_TIMEDOUT";
            case -10 -> "ERROR_NOPARAVIRT";
            case -11 -> "ERROR_NOT_READY";
            case -12 -> "ERROR_OSEVENT_REG_FAIL";
            case -13 -> "ERROR_BUFFERFULL";
            case -14 -> "ERROR_UNKNOWN_CHILD";
            case -15 -> "ERROR_LOCK_FAIL";
            case -16 -> "ERROR_JSON_CONFIG_EMPTY";
            case -17 -> "ERROR_DEVICE_EXISTS";
            case -18 -> "ERROR_CHECKPOINT_DEVOPS_DOES_NOT_MATCH";
            case -19 -> "ERROR_CHECKPOINT_DEVICE_NOT_SUPPORTED";
            case -20 -> "ERROR_VNUMA_CONFIG_INVALID";
            case -21 -> "ERROR_DOMAIN_NOTFOUND";
            case -22 -> "ERROR_ABORTED";
            case -23 -> "ERROR_NOTFOUND";
            case -24 -> "ERROR_DOMAIN_DESTROYED";
            case -25 -> "ERROR_FEATURE_REMOVED";
            case -26 -> "ERROR_PROTOCOL_ERROR_QMP";
            case -27 -> "ERROR_UNKNOWN_QMP_ERROR";
            case -28 -> "ERROR_QMP_GENERIC_ERROR";
            case -29 -> "ERROR_QMP_COMMAND_NOT_FOUND";
            case -30 -> "ERROR_QMP_DEVICE_NOT_ACTIVE";
            case -31 -> "ERROR_QMP_DEVICE_NOT_FOUND";
            case -32 -> "ERROR_QEMU_API";
            default -> "libxl error " + rc;
        };
    }

    private static HypervisorException libxlFailure(String call, Integer domid, String args, int rc) {
        return new HypervisorException(call, domid == null ? null : Integer.toString(domid),
                call + "(" + args + ") returned " + rc + " (" + errorName(rc) + "); libxl's own log lines on stderr say why");
    }

    @FunctionalInterface
    private interface Body<T> {
        T run(MemorySegment errno, Arena a) throws Throwable;
    }

    private <T> T with(String call, Body<T> body) throws HypervisorException {
        if (closed.get()) {
            throw new IllegalStateException("libxl context closed");
        }
        try (Arena a = Arena.ofConfined()) {
            return body.run(NativeCalls.errnoBuffer(a), a);
        } catch (HypervisorException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("downcall " + call + " failed", t);
        }
    }

    private void check(String call, Integer domid, String args, int rc) throws HypervisorException {
        if (rc != 0) {
            throw libxlFailure(call, domid, args, rc);
        }
    }

    /** The running domain's configuration as libxl keeps it (what xl sends ahead of a migration), as JSON. */
    @Override
    public String configJson(int domid) throws HypervisorException {
        return with("libxl_retrieve_domain_configuration", (e, a) -> {
            MemorySegment cfg = a.allocate(DOMAIN_CONFIG_SIZE, 8);
            h.get("libxl_domain_config_init").invokeExact(e, cfg);
            try {
                int rc = (int) h.get("libxl_retrieve_domain_configuration").invokeExact(e, ctx, domid, cfg, MemorySegment.NULL);
                check("libxl_retrieve_domain_configuration", domid, "domid=" + domid + ", ao_how=NULL", rc);
                MemorySegment json = (MemorySegment) h.get("libxl_domain_config_to_json").invokeExact(e, ctx, cfg);
                if (json.equals(MemorySegment.NULL)) {
                    throw new HypervisorException("libxl_domain_config_to_json", Integer.toString(domid), "returned NULL");
                }
                try {
                    return json.reinterpret(MAX_JSON).getString(0);
                } finally {
                    FREE.invokeExact(json);
                }
            } finally {
                h.get("libxl_domain_config_dispose").invokeExact(e, cfg);
            }
        });
    }

    /** Cooperative suspend (xenstore control/shutdown = suspend, then wait for the suspended state). */
    @Override
    public void suspendOnly(int domid) throws HypervisorException {
        with("libxl_domain_suspend_only", (e, a) -> {
            check("libxl_domain_suspend_only", domid, "domid=" + domid + ", ao_how=NULL",
                    (int) h.get("libxl_domain_suspend_only").invokeExact(e, ctx, domid, MemorySegment.NULL));
            return null;
        });
    }

    /** Resumes a suspended domain; {@code suspendCancel}: the guest's cooperative resume (it sees a cancelled suspend). */
    @Override
    public void resume(int domid, boolean suspendCancel) throws HypervisorException {
        int cancel = suspendCancel ? 1 : 0;
        with("libxl_domain_resume", (e, a) -> {
            check("libxl_domain_resume", domid, "domid=" + domid + ", suspend_cancel=" + cancel + ", ao_how=NULL",
                    (int) h.get("libxl_domain_resume").invokeExact(e, ctx, domid, cancel, MemorySegment.NULL));
            return null;
        });
    }

    @Override
    public void destroy(int domid) throws HypervisorException {
        simple("libxl_domain_destroy", domid);
    }

    void pause(int domid) throws HypervisorException {
        simple("libxl_domain_pause", domid);
    }

    @Override
    public void unpause(int domid) throws HypervisorException {
        simple("libxl_domain_unpause", domid);
    }

    private void simple(String call, int domid) throws HypervisorException {
        with(call, (e, a) -> {
            check(call, domid, "domid=" + domid + ", ao_how=NULL", (int) h.get(call).invokeExact(e, ctx, domid, MemorySegment.NULL));
            return null;
        });
    }

    /** Renames the domain; with {@code oldName} non-null, only if it is still called that (checked in a transaction). */
    @Override
    public void rename(int domid, String oldName, String newName) throws HypervisorException {
        with("libxl_domain_rename", (e, a) -> {
            MemorySegment oldC = oldName == null ? MemorySegment.NULL : a.allocateFrom(oldName);
            check("libxl_domain_rename", domid, "domid=" + domid + ", old_name=" + oldName + ", new_name=" + newName,
                    (int) h.get("libxl_domain_rename").invokeExact(e, ctx, domid, oldC, a.allocateFrom(newName)));
            return null;
        });
    }

    /** The domain id of the domain called {@code name}. */
    int domid(String name) throws HypervisorException {
        return with("libxl_name_to_domid", (e, a) -> {
            MemorySegment out = a.allocate(JAVA_INT);
            check("libxl_name_to_domid", null, "name=" + name,
                    (int) h.get("libxl_name_to_domid").invokeExact(e, ctx, a.allocateFrom(name), out));
            return out.get(JAVA_INT, 0);
        });
    }

    /** libxl's view of the domain's type (it tells PVH from HVM by the domain's emulation flags). */
    DomainType domainType(int domid) throws HypervisorException {
        return with("libxl_domain_info", (e, a) -> {
            MemorySegment info = a.allocate(DOMINFO_SIZE, 8);
            h.get("libxl_dominfo_init").invokeExact(e, info);
            try {
                check("libxl_domain_info", domid, "domid=" + domid,
                        (int) h.get("libxl_domain_info").invokeExact(e, ctx, info, domid));
                return DomainType.of(info.get(JAVA_INT, DOMINFO_DOMAIN_TYPE_OFFSET));
            } finally {
                h.get("libxl_dominfo_dispose").invokeExact(e, info);
            }
        });
    }

    /**
     * Builds a new domain from a libxl JSON configuration (renamed {@code name}) and the libxl v2 stream read from
     * {@code restoreFd} until its END record; returns the new domain's id. The domain is left paused.
     */
    @Override
    public int createRestore(String configJson, String name, int restoreFd) throws HypervisorException {
        return with("libxl_domain_create_restore", (e, a) -> {
            MemorySegment cfg = a.allocate(DOMAIN_CONFIG_SIZE, 8);
            MemorySegment params = a.allocate(RESTORE_PARAMS_SIZE, 8);
            h.get("libxl_domain_config_init").invokeExact(e, cfg);
            h.get("libxl_domain_restore_params_init").invokeExact(e, params);
            try {
                check("libxl_domain_config_from_json", null, "json of " + configJson.length() + " chars",
                        (int) h.get("libxl_domain_config_from_json").invokeExact(e, ctx, cfg, a.allocateFrom(configJson)));
                MemorySegment oldName = cfg.get(ADDRESS, CONFIG_NAME_OFFSET);
                MemorySegment newName = (MemorySegment) STRDUP.invokeExact(a.allocateFrom(name));
                cfg.set(ADDRESS, CONFIG_NAME_OFFSET, newName); // freed by libxl_domain_config_dispose
                if (!oldName.equals(MemorySegment.NULL)) {
                    FREE.invokeExact(oldName);
                }
                params.set(JAVA_INT, RESTORE_PARAMS_STREAM_VERSION_OFFSET, STREAM_VERSION_V2);
                MemorySegment domid = a.allocate(JAVA_INT);
                domid.set(JAVA_INT, 0, -1);
                int rc = (int) h.get("libxl_domain_create_restore").invokeExact(e, ctx, cfg, domid, restoreFd, -1, params,
                        MemorySegment.NULL, MemorySegment.NULL);
                check("libxl_domain_create_restore", null, "name=" + name + ", restore_fd=" + restoreFd
                        + ", send_back_fd=-1, stream_version=2, ao_how=NULL (domid " + domid.get(JAVA_INT, 0) + ")", rc);
                return domid.get(JAVA_INT, 0);
            } finally {
                h.get("libxl_domain_restore_params_dispose").invokeExact(e, params);
                h.get("libxl_domain_config_dispose").invokeExact(e, cfg);
            }
        });
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = NativeCalls.errnoBuffer(a);
            int unused = (int) h.get("libxl_ctx_free").invokeExact(e, ctx);
            log.get("xtl_logger_destroy").invokeExact(e, logger);
        } catch (Throwable t) {
            throw new IllegalStateException("libxl_ctx_free failed", t);
        } finally {
            arena.close();
        }
    }

}
