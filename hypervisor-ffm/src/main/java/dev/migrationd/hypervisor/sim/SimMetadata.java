package dev.migrationd.hypervisor.sim;

import dev.migrationd.hypervisor.DomainState;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import dev.migrationd.protocol.x86.TscInfo;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A sim domain's metadata file ({@code <dir>/domain.properties}): identity, shape, run state and the
 * vCPU / platform state that is not kept in mapped files. Written atomically and fsync'd on every state
 * change; read back on start-up as untrusted input (every value is checked before it sizes anything).
 *
 * <p>Not thread-safe: the owning SimDomain guards it with its state lock.
 */
final class SimMetadata {

    static final String FILE = "domain.properties";
    static final int FORMAT = 1;
    /** A metadata file larger than this is refused before it is read. */
    static final long MAX_FILE_BYTES = 16L << 20;
    static final int MAX_HVM_PARAM_INDEX = 64;

    String name;
    UUID uuid;
    int domid;
    DomainState state;
    long p2mSize;
    int vcpus;
    GuestType guestType;
    Width width;
    /** "sim" for a domain created by SimHypervisor#create, "restore" for createForRestore. */
    String origin;
    byte[][] pvContexts;
    byte[][] extContexts;
    byte[] sharedInfo;
    long[] p2mFrames;
    byte[] hvmContext;
    final TreeMap<Integer, Long> hvmParams = new TreeMap<>();
    TscInfo tsc;
    int throttlePercent;

    void store(Path dir) throws IOException {
        Properties p = new Properties();
        p.setProperty("format", Integer.toString(FORMAT));
        p.setProperty("name", name);
        p.setProperty("uuid", uuid.toString());
        p.setProperty("domid", Integer.toString(domid));
        p.setProperty("state", state.name());
        p.setProperty("p2mSize", Long.toString(p2mSize));
        p.setProperty("vcpus", Integer.toString(vcpus));
        p.setProperty("guestType", guestType.name());
        p.setProperty("width", width.name());
        p.setProperty("origin", origin);
        p.setProperty("throttle", Integer.toString(throttlePercent));
        Base64.Encoder b64 = Base64.getEncoder();
        if (guestType == GuestType.PV) {
            for (int v = 0; v < vcpus; v++) {
                p.setProperty("pv.ctx." + v, b64.encodeToString(pvContexts[v]));
                p.setProperty("pv.ext." + v, b64.encodeToString(extContexts[v]));
            }
            p.setProperty("pv.sharedInfo", b64.encodeToString(sharedInfo));
            StringBuilder sb = new StringBuilder();
            for (long f : p2mFrames) {
                sb.append(sb.isEmpty() ? "" : ",").append(f);
            }
            p.setProperty("pv.p2mFrames", sb.toString());
        } else {
            p.setProperty("hvm.context", b64.encodeToString(hvmContext));
            hvmParams.forEach((k, v) -> p.setProperty("hvm.param." + k, Long.toString(v)));
        }
        p.setProperty("tsc", tsc.mode() + "," + tsc.nsec() + "," + tsc.khz() + "," + tsc.incarnation());
        StringWriter w = new StringWriter();
        p.store(w, "migrationd sim domain (written atomically; do not edit while the daemon runs)");
        AtomicFiles.write(dir.resolve(FILE), w.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Reads and checks {@code dir}'s metadata; the message of the exception names the file and the problem. */
    static SimMetadata load(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IOException(file + ": " + size + " bytes, more than the limit of " + MAX_FILE_BYTES);
        }
        Properties p = new Properties();
        p.load(new StringReader(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1)));
        try {
            return parse(p);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static String req(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("missing key '" + key + "'");
        }
        return v.trim();
    }

    private static long num(Properties p, String key, long min, long max) {
        String s = req(p, key);
        long v;
        try {
            v = Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("key '" + key + "' is not a number: " + s);
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("key '" + key + "' = " + v + " outside " + min + ".." + max);
        }
        return v;
    }

    private static byte[] blob(Properties p, String key, int exactLength, int maxLength) {
        byte[] b;
        try {
            b = Base64.getDecoder().decode(req(p, key));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("key '" + key + "' is not base64");
        }
        if (exactLength >= 0 && b.length != exactLength) {
            throw new IllegalArgumentException("key '" + key + "' has " + b.length + " bytes, expected " + exactLength);
        }
        if (b.length > maxLength) {
            throw new IllegalArgumentException("key '" + key + "' has " + b.length + " bytes, limit " + maxLength);
        }
        return b;
    }

    private static <E extends Enum<E>> E enumValue(Properties p, String key, Class<E> type) {
        String s = req(p, key);
        try {
            return Enum.valueOf(type, s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("key '" + key + "' has unknown value '" + s + "'");
        }
    }

    static SimMetadata parse(Properties p) {
        SimMetadata m = new SimMetadata();
        if (num(p, "format", 0, Integer.MAX_VALUE) != FORMAT) {
            throw new IllegalArgumentException("unsupported metadata format " + req(p, "format"));
        }
        m.name = req(p, "name");
        SimHypervisor.checkName(m.name);
        try {
            m.uuid = UUID.fromString(req(p, "uuid"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("key 'uuid' is not a UUID");
        }
        m.domid = (int) num(p, "domid", 1, SimHypervisor.MAX_DOMID);
        m.state = enumValue(p, "state", DomainState.class);
        m.p2mSize = num(p, "p2mSize", SimLayout.MIN_P2M_SIZE, StreamLimits.MAX_P2M_SIZE);
        m.vcpus = (int) num(p, "vcpus", 1, SimDomainSpec.MAX_VCPUS);
        m.guestType = enumValue(p, "guestType", GuestType.class);
        m.width = enumValue(p, "width", Width.class);
        m.origin = req(p, "origin");
        m.throttlePercent = (int) num(p, "throttle", 0, dev.migrationd.hypervisor.Throttle.MAX_PERCENT);
        if (m.guestType == GuestType.PV) {
            m.pvContexts = new byte[m.vcpus][];
            m.extContexts = new byte[m.vcpus][];
            int ctxSize = SimX86.pvContextSize(m.width);
            for (int v = 0; v < m.vcpus; v++) {
                m.pvContexts[v] = blob(p, "pv.ctx." + v, ctxSize, ctxSize);
                m.extContexts[v] = blob(p, "pv.ext." + v, SimX86.EXT_CTX_SIZE, SimX86.EXT_CTX_SIZE);
            }
            m.sharedInfo = blob(p, "pv.sharedInfo", SimX86.SHARED_INFO_SIZE, SimX86.SHARED_INFO_SIZE);
            String frames = req(p, "pv.p2mFrames");
            long maxFrames = (m.p2mSize + 511) / 512 * 2;
            String[] parts = frames.isEmpty() ? new String[0] : frames.split(",", -1);
            if (parts.length > maxFrames) {
                throw new IllegalArgumentException("key 'pv.p2mFrames' lists " + parts.length + " frames, limit " + maxFrames);
            }
            m.p2mFrames = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    m.p2mFrames[i] = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("key 'pv.p2mFrames' entry " + i + " is not a number");
                }
                if (m.p2mFrames[i] < 0 || m.p2mFrames[i] >= m.p2mSize) {
                    throw new IllegalArgumentException("key 'pv.p2mFrames' entry " + i + " = " + m.p2mFrames[i]
                            + " outside the guest");
                }
            }
        } else {
            m.hvmContext = blob(p, "hvm.context", -1, StreamLimits.DEFAULT.maxHvmContextBytes());
            SimX86.hvmCpuOffsets(m.hvmContext, m.vcpus);
            for (String key : p.stringPropertyNames()) {
                if (key.startsWith("hvm.param.")) {
                    int index;
                    try {
                        index = Integer.parseInt(key.substring("hvm.param.".length()));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("key '" + key + "' has no numeric index");
                    }
                    if (index < 0 || index >= MAX_HVM_PARAM_INDEX) {
                        throw new IllegalArgumentException("key '" + key + "' index outside 0.." + (MAX_HVM_PARAM_INDEX - 1));
                    }
                    m.hvmParams.put(index, num(p, key, Long.MIN_VALUE, Long.MAX_VALUE));
                }
            }
        }
        String[] tsc = req(p, "tsc").split(",", -1);
        if (tsc.length != 4) {
            throw new IllegalArgumentException("key 'tsc' needs 4 fields: mode,nsec,khz,incarnation");
        }
        try {
            m.tsc = new TscInfo(Integer.parseInt(tsc[0]), Long.parseLong(tsc[1]), Integer.parseInt(tsc[2]),
                    Integer.parseInt(tsc[3]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("key 'tsc' has a non-numeric field");
        }
        return m;
    }
}
