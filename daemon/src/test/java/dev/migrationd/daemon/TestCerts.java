package dev.migrationd.daemon;

import dev.migrationd.control.cli.certs.LabCa;
import dev.migrationd.daemon.tls.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Real certificates made on the fly for tests: one lab CA per directory ({@code DIR/ca.pem}) and host
 * certificates it signs ({@code DIR/NAME.pem}, {@code DIR/NAME.key}), as {@code migrationctl certs} makes
 * them. Nothing is committed. Thread-safe (one lock).
 */
public final class TestCerts {

    private static final Map<Path, LabCa> CAS = new HashMap<>();

    private TestCerts() {
    }

    /** The CA of {@code dir}, made on first use. */
    public static synchronized LabCa ca(Path dir) throws Exception {
        Path abs = dir.toAbsolutePath().normalize();
        LabCa ca = CAS.get(abs);
        if (ca == null) {
            Files.createDirectories(abs);
            ca = LabCa.create("test CA " + abs.getFileName(), LabCa.KeyType.EC, Duration.ofDays(2));
            LabCa.writeNew(abs.resolve("ca.pem"), LabCa.pem(List.of(ca.certificate())), false);
            CAS.put(abs, ca);
        }
        return ca;
    }

    /** The TLS files of host {@code name} under {@code dir}'s CA (made on first use). */
    public static synchronized TlsFiles host(Path dir, String name) throws Exception {
        return host(dir, name, name, LabCa.KeyType.EC, LabCa.KeyFormat.PKCS8, Instant.now().minusSeconds(300),
                Instant.now().plus(Duration.ofDays(1)));
    }

    /**
     * A certificate naming {@code sanName} in files called {@code fileName}.pem/.key, with the given key
     * type and form and validity; reused if the files exist.
     */
    public static synchronized TlsFiles host(Path dir, String fileName, String sanName, LabCa.KeyType type,
                                             LabCa.KeyFormat format, Instant notBefore, Instant notAfter) throws Exception {
        LabCa ca = ca(dir);
        Path abs = dir.toAbsolutePath().normalize();
        Path cert = abs.resolve(fileName + ".pem");
        Path key = abs.resolve(fileName + ".key");
        if (!Files.exists(cert)) {
            LabCa.Issued issued = ca.issue(sanName, type, notBefore, notAfter);
            LabCa.writeNew(cert, LabCa.pem(List.of(issued.certificate())), false);
            LabCa.writeNew(key, LabCa.pem(issued.key(), format), true);
        }
        return new TlsFiles(abs.resolve("ca.pem"), cert, key);
    }

    /** The daemon flags that use these files, as {@code --name value} pairs. */
    public static List<String> flags(TlsFiles f) {
        return List.of("--tls-ca", f.ca().toString(), "--tls-cert", f.cert().toString(), "--tls-key", f.key().toString());
    }

    /** The same as config keys. */
    public static Map<String, String> keys(TlsFiles f) {
        return Map.of(PeerLinkConfig.KEY_TLS_CA, f.ca().toString(), PeerLinkConfig.KEY_TLS_CERT, f.cert().toString(),
                PeerLinkConfig.KEY_TLS_KEY, f.key().toString());
    }
}
