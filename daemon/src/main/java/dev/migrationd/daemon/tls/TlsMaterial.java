package dev.migrationd.daemon.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * One listener's TLS material, read from PEM files and checked: the trusted CAs, this host's
 * certificate chain (leaf first) and its private key, which must belong to the leaf. Immutable; a
 * reload reads a new one.
 *
 * <p>Keys are read in the three forms {@code openssl} writes unencrypted: PKCS#8 ({@code BEGIN PRIVATE
 * KEY}), PKCS#1 RSA ({@code BEGIN RSA PRIVATE KEY}) and SEC 1 EC ({@code BEGIN EC PRIVATE KEY}, with or
 * without a leading {@code EC PARAMETERS} block). An encrypted key is refused with a message saying so:
 * a daemon has nobody to ask for the passphrase.
 */
public record TlsMaterial(TlsFiles files, List<X509Certificate> trusted, List<X509Certificate> chain, PrivateKey key) {

    /** A PEM file larger than this is not a certificate bundle or a key. */
    public static final long MAX_PEM_BYTES = 1 << 20;
    /** More certificates than this in one bundle are refused. */
    public static final int MAX_CERTIFICATES = 256;

    public TlsMaterial {
        trusted = List.copyOf(trusted);
        chain = List.copyOf(chain);
    }

    /** Reads and checks the three files. */
    public static TlsMaterial load(TlsFiles files) throws TlsException {
        List<X509Certificate> cas = certificates(files.ca(), "tls-ca");
        List<X509Certificate> chain = certificates(files.cert(), "tls-cert");
        PrivateKey key = privateKey(files.key());
        X509Certificate leaf = chain.getFirst();
        if (!keyMatches(key, leaf)) {
            throw new TlsException("tls-key " + files.key() + ": this key does not belong to the certificate in "
                    + files.cert() + " (" + leaf.getSubjectX500Principal() + ")");
        }
        return new TlsMaterial(files, cas, chain, key);
    }

    /** This host's certificate. */
    public X509Certificate leaf() {
        return chain.getFirst();
    }

    /** The names this host's certificate proves (subjectAltName DNS entries). */
    public List<String> names() {
        return CertNames.dnsNames(leaf());
    }

    /** When this host's certificate stops being valid. */
    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** A PKIX trust manager over {@link #trusted()} (revocation is not checked: a lab CA publishes no CRL). */
    public X509ExtendedTrustManager trustManager() throws TlsException {
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            for (int i = 0; i < trusted.size(); i++) {
                ks.setCertificateEntry("ca-" + i, trusted.get(i));
            }
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(ks);
            for (TrustManager tm : f.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    return x;
                }
            }
            throw new TlsException("no X.509 trust manager in this JDK");
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsException("tls-ca " + files.ca() + ": cannot build a trust store: " + e.getMessage(), e);
        }
    }

    // ---- reading -----------------------------------------------------------------------------------

    private static String read(Path file, String what) throws TlsException {
        try {
            if (Files.size(file) > MAX_PEM_BYTES) {
                throw new TlsException(what + " " + file + ": larger than " + MAX_PEM_BYTES + " bytes; not a PEM file");
            }
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new TlsException(what + " " + file + ": no such file");
        } catch (IOException e) {
            throw new TlsException(what + " " + file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static List<X509Certificate> certificates(Path file, String what) throws TlsException {
        String text = read(file, what);
        List<X509Certificate> out = new ArrayList<>();
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
        try (Reader r = new StringReader(text); PEMParser p = new PEMParser(r)) {
            Object o;
            while ((o = p.readObject()) != null) {
                if (!(o instanceof X509CertificateHolder h)) {
                    throw new TlsException(what + " " + file + ": holds a " + o.getClass().getSimpleName()
                            + " where only certificates (BEGIN CERTIFICATE) belong");
                }
                if (out.size() == MAX_CERTIFICATES) {
                    throw new TlsException(what + " " + file + ": more than " + MAX_CERTIFICATES + " certificates");
                }
                X509Certificate c = conv.getCertificate(h);
                out.add(c);
            }
        } catch (IOException | CertificateException e) {
            throw new TlsException(what + " " + file + ": not a PEM certificate file: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new TlsException(what + " " + file + ": no certificate in it (expected BEGIN CERTIFICATE blocks)");
        }
        Date now = new Date();
        X509Certificate first = out.getFirst();
        if (first.getNotAfter().before(now)) {
            throw new TlsException(what + " " + file + ": the certificate " + first.getSubjectX500Principal()
                    + " expired on " + first.getNotAfter().toInstant());
        }
        return out;
    }

    private static PrivateKey privateKey(Path file) throws TlsException {
        String text = read(file, "tls-key");
        JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
        try (Reader r = new StringReader(text); PEMParser p = new PEMParser(r)) {
            Object o;
            while ((o = p.readObject()) != null) {
                switch (o) {
                    case ASN1ObjectIdentifier curve -> {
                        // "EC PARAMETERS" before "EC PRIVATE KEY" (openssl ecparam -genkey): the key names its curve too
                    }
                    case PEMKeyPair kp -> {
                        return conv.getPrivateKey(kp.getPrivateKeyInfo());
                    }
                    case PrivateKeyInfo info -> {
                        return conv.getPrivateKey(info);
                    }
                    case PEMEncryptedKeyPair e -> throw encrypted(file);
                    case PKCS8EncryptedPrivateKeyInfo e -> throw encrypted(file);
                    default -> throw new TlsException("tls-key " + file + ": holds a " + o.getClass().getSimpleName()
                            + ", not a private key");
                }
            }
        } catch (PEMException e) {
            throw new TlsException("tls-key " + file + ": not a usable private key: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new TlsException("tls-key " + file + ": not a PEM private key: " + e.getMessage(), e);
        }
        throw new TlsException("tls-key " + file + ": no private key in it (expected BEGIN PRIVATE KEY, "
                + "BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
    }

    private static TlsException encrypted(Path file) {
        return new TlsException("tls-key " + file + ": the key is encrypted; give the daemon an unencrypted key "
                + "readable only by it (openssl pkey -in KEY -out KEY.plain)");
    }

    /** Signs a probe with the key and verifies it with the certificate's public key. */
    private static boolean keyMatches(PrivateKey key, X509Certificate cert) throws TlsException {
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw new TlsException("tls-key: unsupported key algorithm " + key.getAlgorithm()
                    + " (RSA, EC or Ed25519)");
        };
        try {
            byte[] probe = "migrationd key check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
