package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.migrationd.hypervisor.ffm.NativeCalls;
import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The lab's throwaway probe of the libxl prototype ({@link LibXl}) and of what libxenctrl reports about a domain,
 * run in a lab dom0 with the daemon's jars:
 * {@code java -cp '/opt/migrationd/lib/*:/opt/lab-tools' dev.migrationd.hypervisor.xen.LibXlProbe COMMAND ...}
 * <ul>
 *   <li>{@code info NAME}: libxl's domain type; xc_domain_getinfolist's flags, tot_pages, max_pages, emulation
 *       flags; xc_domain_maximum_gpfn</li>
 *   <li>{@code config NAME}: libxl_retrieve_domain_configuration + libxl_domain_config_to_json</li>
 *   <li>{@code suspend-resume NAME}: libxl_domain_suspend_only, the domain's state, libxl_domain_resume(cancel=1)</li>
 *   <li>{@code restore XL-SAVE-FILE NAME}: the JSON config and libxl v2 stream of a file {@code xl save} wrote;
 *       libxl_domain_create_restore reading the stream from a pipe this JVM writes; the new domain's state</li>
 *   <li>{@code rename NAME NEW}, {@code unpause NAME}, {@code destroy NAME}</li>
 * </ul>
 * Each step prints one line "probe: STEP ok|FAILED ... (N ms)".
 */
public final class LibXlProbe {

    private static final int XL_HEADER_MAGIC_LEN = 32;
    private static final String XL_MAGIC = "Xen saved domain, xl format\n \0 \r";
    private static final int MAX_CONFIG = 1 << 20;

    public static void main(String[] args) throws Throwable {
        if (args.length < 2) {
            System.err.println("usage: LibXlProbe info|config|suspend-resume|restore|rename|unpause|destroy ARGS");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        try (LibXl xl = step("libxl_ctx_alloc", LibXl::open)) {
            System.out.println("probe: context ready after " + (System.nanoTime() - t0) / 1_000_000 + " ms since main");
            switch (args[0]) {
                case "info" -> info(xl, args[1]);
                case "config" -> System.out.println(step("config " + args[1], () -> xl.configJson(xl.domid(args[1]))));
                case "suspend-resume" -> suspendResume(xl, args[1]);
                case "restore" -> restore(xl, args[1], args[2]);
                case "rename" -> step("rename", () -> { xl.rename(xl.domid(args[1]), args[1], args[2]); return null; });
                case "unpause" -> step("unpause", () -> { xl.unpause(xl.domid(args[1])); return null; });
                case "destroy" -> step("destroy", () -> { xl.destroy(xl.domid(args[1])); return null; });
                default -> throw new IllegalArgumentException("unknown command " + args[0]);
            }
        }
    }

    @FunctionalInterface
    interface Step<T> {
        T run() throws Exception;
    }

    static <T> T step(String name, Step<T> s) throws Exception {
        long t0 = System.nanoTime();
        try {
            T r = s.run();
            System.out.println("probe: " + name + " ok (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            return r;
        } catch (Exception e) {
            System.out.println("probe: " + name + " FAILED: " + e.getMessage() + " (" + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            throw e;
        }
    }

    /** xc_domain_getinfolist's view of one domain, as key=value text. */
    static String xcInfo(int domid) throws Exception {
        try (LibXenCtrl xc = LibXenCtrl.open(); Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(XenLayouts.XC_DOMAININFO);
            int n = xc.domainGetInfoList(domid, 1, info);
            int got = Short.toUnsignedInt(info.get(java.lang.foreign.ValueLayout.JAVA_SHORT, 0));
            if (n != 1 || got != domid) {
                return "xc: domain " + domid + " not found";
            }
            int flags = info.get(JAVA_INT, XenLayouts.offset(XenLayouts.XC_DOMAININFO, "flags"));
            long tot = info.get(JAVA_LONG, XenLayouts.offset(XenLayouts.XC_DOMAININFO, "tot_pages"));
            long max = info.get(JAVA_LONG, XenLayouts.offset(XenLayouts.XC_DOMAININFO, "max_pages"));
            int emu = info.get(JAVA_INT, XenLayouts.offset(XenLayouts.XC_DOMAININFO, "arch_config", "emulation_flags"));
            long gpfn = xc.domainMaximumGpfn(domid);
            return String.format("xc: flags=0x%x (hvm_guest=%d hap=%d paused=%d shutdown=%d shutdown_reason=%d) tot_pages=%d (%d KiB)"
                            + " max_pages=%d (%d KiB) emulation_flags=0x%x maximum_gpfn=0x%x",
                    flags, (flags >> 1) & 1, (flags >> 8) & 1, (flags >> 3) & 1, (flags >> 2) & 1, (flags >>> 16) & 0xff,
                    tot, tot * 4, max, max * 4, emu, gpfn);
        }
    }

    static void info(LibXl xl, String name) throws Exception {
        int domid = xl.domid(name);
        System.out.println("probe: " + name + " domid=" + domid + " libxl_domain_type=" + xl.domainType(domid));
        System.out.println("probe: " + xcInfo(domid));
    }

    static void suspendResume(LibXl xl, String name) throws Exception {
        int domid = xl.domid(name);
        step("libxl_domain_suspend_only " + name, () -> { xl.suspendOnly(domid); return null; });
        System.out.println("probe: suspended: " + xcInfo(domid));
        step("libxl_domain_resume " + name + " suspend_cancel=1", () -> { xl.resume(domid, true); return null; });
        System.out.println("probe: resumed: " + xcInfo(domid));
    }

    // libc, for the pipe the stream goes through
    private static final MethodHandle PIPE = libc("pipe", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle WRITE = libc("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private static MethodHandle libc(String name, FunctionDescriptor fd) {
        return NativeCalls.LINKER.downcallHandle(NativeCalls.LINKER.defaultLookup().find(name).orElseThrow(), fd);
    }

    static void restore(LibXl xl, String file, String name) throws Throwable {
        InputStream in = new FileInputStream(file);
        DataInputStream d = new DataInputStream(in);
        byte[] magic = d.readNBytes(XL_HEADER_MAGIC_LEN);
        if (!new String(magic, StandardCharsets.ISO_8859_1).equals(XL_MAGIC)) {
            throw new IOException(file + ": not an xl save file");
        }
        ByteBuffer hdr = ByteBuffer.wrap(d.readNBytes(16)).order(ByteOrder.nativeOrder());
        int byteorder = hdr.getInt();
        int mandatory = hdr.getInt();
        int optional = hdr.getInt();
        int optLen = hdr.getInt();
        if (optLen < 4 || optLen > MAX_CONFIG) {
            throw new IOException(file + ": optional data length " + optLen);
        }
        ByteBuffer opt = ByteBuffer.wrap(d.readNBytes(optLen)).order(ByteOrder.nativeOrder());
        int cfgLen = opt.getInt();
        if (cfgLen < 0 || cfgLen > optLen - 4) {
            throw new IOException(file + ": config length " + cfgLen);
        }
        String json = new String(opt.array(), 4, cfgLen, StandardCharsets.UTF_8).replace("\0", "");
        System.out.printf("probe: xl header byteorder=0x%x mandatory_flags=0x%x optional_flags=0x%x config=%d bytes%n",
                byteorder, mandatory, optional, cfgLen);
        // the rest of the file is the libxl v2 stream: fed to libxl through a pipe, as a network receiver would
        int readFd;
        int writeFd;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocate(JAVA_INT, 2);
            if ((int) PIPE.invokeExact(fds) != 0) {
                throw new IOException("pipe() failed");
            }
            readFd = fds.getAtIndex(JAVA_INT, 0);
            writeFd = fds.getAtIndex(JAVA_INT, 1);
        }
        long[] fed = new long[1];
        Thread feeder = Thread.ofPlatform().name("stream-feeder").start(() -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(1 << 16);
                byte[] chunk = new byte[1 << 16];
                int n;
                while ((n = in.read(chunk)) > 0) {
                    MemorySegment.copy(chunk, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, n);
                    long off = 0;
                    while (off < n) {
                        long w = (long) WRITE.invokeExact(writeFd, buf.asSlice(off), (long) (n - off));
                        if (w <= 0) {
                            System.out.println("probe: feeder: write returned " + w + " after " + fed[0] + " bytes");
                            return;
                        }
                        off += w;
                        fed[0] += w;
                    }
                }
            } catch (Throwable t) {
                System.out.println("probe: feeder failed: " + t);
            } finally {
                try {
                    int unused = (int) CLOSE.invokeExact(writeFd);
                    in.close();
                } catch (Throwable ignored) {
                    // the probe ends anyway
                }
            }
        });
        int domid = step("libxl_domain_create_restore " + name + " (stream through a pipe)",
                () -> xl.createRestore(json, name, readFd));
        int unused = (int) CLOSE.invokeExact(readFd);
        feeder.join(60_000);
        System.out.println("probe: fed " + fed[0] + " stream bytes; new domid " + domid + "; libxl type " + xl.domainType(domid));
        System.out.println("probe: after create_restore: " + xcInfo(domid));
    }

    private LibXlProbe() {}
}
