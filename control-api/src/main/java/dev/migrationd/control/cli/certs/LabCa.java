package dev.migrationd.control.cli.certs;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaMiscPEMGenerator;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * A certificate authority for a lab: a self-signed CA and host certificates it signs, each naming its host
 * in a subjectAltName DNS entry (the identity migrationd checks), usable as a TLS server and client.
 * Keys are EC P-256 by default (or RSA 2048) and are written as PKCS#8 or in the "traditional" form
 * {@code openssl} writes ({@code BEGIN RSA PRIVATE KEY}, {@code BEGIN EC PRIVATE KEY}).
 *
 * <p>Files are created with {@code O_EXCL} semantics (an existing file or symbolic link is never
 * replaced), keys with mode 0600.
 *
 * <p>Not thread-safe; one instance per run.
 */
public final class LabCa {

    /** Key algorithm of a generated key. */
    public enum KeyType { EC, RSA }

    /** How a private key is written: PKCS#8 ({@code BEGIN PRIVATE KEY}) or the algorithm's own PEM form. */
    public enum KeyFormat { PKCS8, TRADITIONAL }

    /** Default validity of a lab CA and its host certificates. */
    public static final Duration DEFAULT_VALIDITY = Duration.ofDays(365);
    /** Host certificates start this long before "now", so small clock differences between hosts do not matter. */
    static final Duration BACKDATE = Duration.ofMinutes(5);
    static final int RSA_BITS = 2048;
    static final String EC_CURVE = "secp256r1";

    private final KeyPair caKeys;
    private final X509Certificate caCert;
    private final SecureRandom random = new SecureRandom();

    private LabCa(KeyPair caKeys, X509Certificate caCert) {
        this.caKeys = caKeys;
        this.caCert = caCert;
    }

    /** An existing CA (its certificate and key), to issue more host certificates. */
    public static LabCa load(X509Certificate certificate, PrivateKey key) throws GeneralSecurityException {
        if (certificate.getBasicConstraints() < 0) {
            throw new GeneralSecurityException(certificate.getSubjectX500Principal() + " is not a CA certificate");
        }
        return new LabCa(new KeyPair(certificate.getPublicKey(), key), certificate);
    }

    /** A new CA named {@code commonName}, valid from now for {@code validity}. */
    public static LabCa create(String commonName, KeyType type, Duration validity) throws GeneralSecurityException {
        KeyPair keys = generate(type);
        Instant now = Instant.now();
        X500Name name = new X500Name("CN=" + commonName);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(new SecureRandom()),
                    Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)), name, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new LabCa(keys, sign(b, keys.getPrivate()));
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build the CA certificate: " + e.getMessage(), e);
        }
    }

    public X509Certificate certificate() {
        return caCert;
    }

    public PrivateKey privateKey() {
        return caKeys.getPrivate();
    }

    /** A host certificate and its key. */
    public record Issued(X509Certificate certificate, PrivateKey key) {
    }

    /**
     * Issues a certificate for {@code host}: subject {@code CN=host}, subjectAltName {@code DNS:host},
     * extended key usage server and client authentication, valid from {@code notBefore} to {@code notAfter}.
     */
    public Issued issue(String host, KeyType type, Instant notBefore, Instant notAfter) throws GeneralSecurityException {
        Objects.requireNonNull(host, "host");
        KeyPair keys = generate(type);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(caCert, serial(random), Date.from(notBefore),
                    Date.from(notAfter), new X500Name("CN=" + host), keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(new GeneralName(GeneralName.dNSName, host)))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new Issued(sign(b, caKeys.getPrivate()), keys.getPrivate());
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build the certificate for " + host + ": " + e.getMessage(), e);
        }
    }

    /** Issues a certificate for {@code host} valid from now (less {@link #BACKDATE}) for {@code validity}. */
    public Issued issue(String host, KeyType type, Duration validity) throws GeneralSecurityException {
        Instant now = Instant.now();
        return issue(host, type, now.minus(BACKDATE), now.plus(validity));
    }

    // ---- PEM ---------------------------------------------------------------------------------------

    /** PEM text of certificates, in order. */
    public static String pem(List<X509Certificate> certs) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            for (X509Certificate c : certs) {
                pw.writeObject(c);
            }
        }
        return w.toString();
    }

    /** PEM text of a private key in the given form. */
    public static String pem(PrivateKey key, KeyFormat format) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            if (format == KeyFormat.PKCS8) {
                pw.writeObject(new PemObject("PRIVATE KEY", key.getEncoded()));
            } else if (key.getAlgorithm().equals("EC")) {
                // SEC 1 with the curve inside, as openssl writes it: the JDK's PKCS#8 encoding keeps the curve
                // only in the outer algorithm identifier, which the bare EC PRIVATE KEY form does not have
                PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
                org.bouncycastle.asn1.sec.ECPrivateKey inner = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(info.parsePrivateKey());
                ASN1Encodable curve = info.getPrivateKeyAlgorithm().getParameters();
                int orderBits = ((java.security.interfaces.ECPrivateKey) key).getParams().getOrder().bitLength();
                pw.writeObject(new PemObject("EC PRIVATE KEY",
                        new org.bouncycastle.asn1.sec.ECPrivateKey(orderBits, inner.getKey(), inner.getPublicKey(), curve).getEncoded()));
            } else {
                // BouncyCastle writes a bare private key in the algorithm's own form, as openssl does
                // (RSA: PKCS#1 "RSA PRIVATE KEY", EC: SEC 1 "EC PRIVATE KEY")
                pw.writeObject(new JcaMiscPEMGenerator(key));
            }
        }
        return w.toString();
    }

    /**
     * Writes {@code text} to a new file: refuses an existing file or symbolic link (created with O_EXCL
     * semantics), with {@code private} files readable by the owner only, and forces it to disk.
     */
    public static void writeNew(Path file, String text, boolean secret) throws IOException {
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(file.toString(), null, "exists; not replaced");
        }
        var attrs = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--"));
        try (FileChannel ch = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS), attrs)) {
            var buf = java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
    }

    // ---- internals ---------------------------------------------------------------------------------

    private static KeyPair generate(KeyType type) throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance(type.name());
        if (type == KeyType.EC) {
            g.initialize(new ECGenParameterSpec(EC_CURVE));
        } else {
            g.initialize(RSA_BITS);
        }
        return g.generateKeyPair();
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
        String alg = signer.getAlgorithm().toUpperCase(Locale.ROOT).equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(alg).build(signer)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign: " + e.getMessage(), e);
        }
    }

    private static BigInteger serial(SecureRandom r) {
        return new BigInteger(127, r).add(BigInteger.ONE);
    }
}
