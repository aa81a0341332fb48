package dev.migrationd.daemon.tls;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a listener's TLS material lives: the PEM bundle of trusted CAs, this host's certificate chain
 * (leaf first) and its private key (PKCS#8, or traditional RSA/EC as {@code openssl} writes them).
 */
public record TlsFiles(Path ca, Path cert, Path key) {
    public TlsFiles {
        Objects.requireNonNull(ca, "ca");
        Objects.requireNonNull(cert, "cert");
        Objects.requireNonNull(key, "key");
    }
}
