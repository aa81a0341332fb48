package dev.migrationd.control.cli.certs;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code migrationctl certs --dir DIR HOST...}: a lab CA ({@code DIR/ca.pem}, {@code DIR/ca.key}; made
 * unless both exist, then reused) and one certificate per host ({@code DIR/HOST.pem}, {@code DIR/HOST.key},
 * subjectAltName {@code DNS:HOST}). Existing host files are never replaced.
 */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = {"Makes a lab CA and per-host certificates for the peer link's mutual TLS (PEM files).",
            "DIR/ca.pem and DIR/ca.key are made unless both exist (then they sign the new hosts);",
            "each HOST gets DIR/HOST.pem and DIR/HOST.key with subjectAltName DNS:HOST.",
            "Start each daemon with --tls-ca DIR/ca.pem --tls-cert DIR/HOST.pem --tls-key DIR/HOST.key.",
            "For a lab: a production CA keeps its key elsewhere."})
public final class CertsCommand implements Callable<Integer> {

    static final String CA_CERT = "ca.pem";
    static final String CA_KEY = "ca.key";
    static final int MAX_DAYS = 3650;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Where the files go (created if missing).")
    Path dir;

    @Parameters(paramLabel = "HOST", arity = "1..*", description = "Host (peer) names, as the daemons' --name.")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--ca-name", paramLabel = "NAME", defaultValue = "migrationd lab CA",
            description = "Common name of a new CA (default: ${DEFAULT-VALUE}).")
    String caName;

    @Option(names = "--days", paramLabel = "N", defaultValue = "365", description = "Validity in days (default: ${DEFAULT-VALUE}).")
    int days;

    @Option(names = "--key-type", paramLabel = "ec|rsa", defaultValue = "ec",
            description = "Key algorithm: ec (P-256) or rsa (2048 bits) (default: ${DEFAULT-VALUE}).")
    String keyType;

    @Option(names = "--key-format", paramLabel = "pkcs8|traditional", defaultValue = "pkcs8",
            description = "Private key PEM form: pkcs8 (BEGIN PRIVATE KEY) or traditional (BEGIN RSA/EC PRIVATE KEY) "
                    + "(default: ${DEFAULT-VALUE}).")
    String keyFormat;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException, GeneralSecurityException {
        LabCa.KeyType type = switch (keyType) {
            case "ec" -> LabCa.KeyType.EC;
            case "rsa" -> LabCa.KeyType.RSA;
            default -> throw new CliException(ExitCode.USAGE, "--key-type must be ec or rsa, not '" + keyType + "'");
        };
        LabCa.KeyFormat format = switch (keyFormat) {
            case "pkcs8" -> LabCa.KeyFormat.PKCS8;
            case "traditional" -> LabCa.KeyFormat.TRADITIONAL;
            default -> throw new CliException(ExitCode.USAGE, "--key-format must be pkcs8 or traditional, not '" + keyFormat + "'");
        };
        if (days < 1 || days > MAX_DAYS) {
            throw new CliException(ExitCode.USAGE, "--days must be in 1.." + MAX_DAYS + ", not " + days);
        }
        for (String h : hosts) {
            if (!h.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
                throw new CliException(ExitCode.USAGE, "host name '" + h + "' must be letters, digits, '.', '_' or '-'"
                        + " (as migrationd --name takes it)");
            }
            for (String suffix : List.of(".pem", ".key")) {
                if (Files.exists(dir.resolve(h + suffix), LinkOption.NOFOLLOW_LINKS)) {
                    throw new CliException(ExitCode.USAGE, dir.resolve(h + suffix) + " exists; not replaced");
                }
            }
        }
        Files.createDirectories(dir);
        Duration validity = Duration.ofDays(days);
        Path caCert = dir.resolve(CA_CERT);
        Path caKey = dir.resolve(CA_KEY);
        LabCa ca;
        boolean haveCert = Files.exists(caCert, LinkOption.NOFOLLOW_LINKS);
        boolean haveKey = Files.exists(caKey, LinkOption.NOFOLLOW_LINKS);
        if (haveCert && haveKey) {
            ca = LabCa.load(readCertificate(caCert), readKey(caKey));
            spec.commandLine().getOut().println("using the CA in " + caCert);
        } else if (haveCert || haveKey) {
            throw new CliException(ExitCode.USAGE, "found " + (haveCert ? caCert : caKey) + " without "
                    + (haveCert ? caKey : caCert) + "; give both or neither");
        } else {
            ca = LabCa.create(caName, type, validity);
            LabCa.writeNew(caCert, LabCa.pem(List.of(ca.certificate())), false);
            LabCa.writeNew(caKey, LabCa.pem(ca.privateKey(), format), true);
            spec.commandLine().getOut().println("made a CA: " + caCert + ", " + caKey);
        }
        for (String h : hosts) {
            LabCa.Issued issued = ca.issue(h, type, validity);
            LabCa.writeNew(dir.resolve(h + ".pem"), LabCa.pem(List.of(issued.certificate())), false);
            LabCa.writeNew(dir.resolve(h + ".key"), LabCa.pem(issued.key(), format), true);
            spec.commandLine().getOut().println("made " + dir.resolve(h + ".pem") + ", " + dir.resolve(h + ".key")
                    + " (subjectAltName DNS:" + h + ")");
        }
        spec.commandLine().getOut().flush();
        return ExitCode.OK;
    }

    private static X509Certificate readCertificate(Path file) throws IOException, GeneralSecurityException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            if (p.readObject() instanceof X509CertificateHolder h) {
                return new JcaX509CertificateConverter().getCertificate(h);
            }
        }
        throw new CliException(ExitCode.USAGE, file + " holds no PEM certificate");
    }

    private static PrivateKey readKey(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return conv.getPrivateKey(kp.getPrivateKeyInfo());
            }
            if (o instanceof PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
        }
        throw new CliException(ExitCode.USAGE, file + " holds no unencrypted PEM private key");
    }
}
