package dev.migrationd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.control.cli.certs.LabCa;
import dev.migrationd.daemon.TestCerts;
import dev.migrationd.daemon.engine.peer.PeerConnection;
import dev.migrationd.daemon.engine.peer.PeerPermission;
import dev.migrationd.daemon.transport.NettyPeerConnector;
import dev.migrationd.daemon.transport.PeerLinkSettings;
import dev.migrationd.daemon.transport.PeerServer;
import dev.migrationd.daemon.transport.PeerTransport;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * TLS material as operators make it: keys in the three PEM forms {@code openssl} writes (PKCS#8,
 * traditional RSA, traditional EC with its parameters block), from {@code migrationctl certs} and from
 * the {@code openssl} tool itself; each loads and carries a real mutual TLS 1.3 handshake, with OpenSSL
 * and with the JDK's provider. Unusable material is refused with a line naming the file and the problem.
 */
class PeerTlsTest {

    @TempDir
    Path dir;

    enum Provider { DEFAULT, JDK }

    static PeerTls open(TlsFiles f, String name, Provider p) throws TlsException {
        return p == Provider.JDK ? PeerTls.openWithJdkProvider(f, name) : PeerTls.open(f, name);
    }

    @ParameterizedTest(name = "{0} {1} key, {2} provider")
    @CsvSource({"EC,PKCS8,DEFAULT", "RSA,PKCS8,DEFAULT", "RSA,TRADITIONAL,DEFAULT", "EC,TRADITIONAL,DEFAULT",
        "EC,PKCS8,JDK", "RSA,TRADITIONAL,JDK", "EC,TRADITIONAL,JDK"})
    void everyKeyFormCarriesAMutualHandshake(LabCa.KeyType type, LabCa.KeyFormat format, Provider provider) throws Exception {
        Path ca = dir.resolve("ca");
        TlsFiles server = TestCerts.host(ca, "hostB", "hostB", type, format, Instant.now().minusSeconds(60),
                Instant.now().plus(Duration.ofDays(1)));
        String header = Files.readString(server.key()).lines().findFirst().orElseThrow();
        assertEquals(switch (format) {
            case PKCS8 -> "-----BEGIN PRIVATE KEY-----";
            case TRADITIONAL -> type == LabCa.KeyType.RSA ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----";
        }, header, "the key is in the form under test");
        handshake(open(server, "hostB", provider), open(TestCerts.host(ca, "hostA"), "hostA", provider));
    }

    /** Keys and certificates written by the openssl tool, as an operator would make them by hand. */
    @Test
    void keysWrittenByOpensslLoad() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "needs the openssl tool");
        // a CA, then for each key form a host key and a certificate signed by the CA with subjectAltName DNS:hostB
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-subj", "/CN=openssl lab CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign");
        Map<String, List<String>> keys = Map.of(
                "pkcs8", List.of("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "pkcs8.key"),
                "rsa", List.of("genrsa", "-traditional", "-out", "rsa.key", "2048"),
                "ec", List.of("ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.key"));
        for (var e : keys.entrySet()) {
            openssl(e.getValue().toArray(String[]::new));
            openssl("req", "-new", "-key", e.getKey() + ".key", "-out", e.getKey() + ".csr", "-subj", "/CN=hostB");
            Files.writeString(dir.resolve("ext.cnf"), "subjectAltName=DNS:hostB\nextendedKeyUsage=serverAuth,clientAuth\n");
            openssl("x509", "-req", "-in", e.getKey() + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", e.getKey() + ".pem", "-days", "1", "-extfile", "ext.cnf");
        }
        String ecKey = Files.readString(dir.resolve("ec.key"));
        assertTrue(ecKey.startsWith("-----BEGIN EC PARAMETERS-----") && ecKey.contains("-----BEGIN EC PRIVATE KEY-----"), ecKey);
        assertTrue(Files.readString(dir.resolve("rsa.key")).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
        assertTrue(Files.readString(dir.resolve("pkcs8.key")).startsWith("-----BEGIN PRIVATE KEY-----"));
        for (String form : keys.keySet()) {
            TlsMaterial m = TlsMaterial.load(new TlsFiles(dir.resolve("ca.pem"), dir.resolve(form + ".pem"), dir.resolve(form + ".key")));
            assertEquals(List.of("hostB"), m.names(), form);
        }
    }

    private void openssl(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, cmd + ":\n" + out);
    }

    /** hostA connects to hostB over the project's transport: each side sees the other's certificate names. */
    static void handshake(PeerTls serverTls, PeerTls clientTls) throws Exception {
        PeerLinkSettings base = PeerLinkSettings.PLAINTEXT;
        try (PeerTransport st = new PeerTransport(base.withTls(serverTls)); PeerTransport ct = new PeerTransport(base.withTls(clientTls))) {
            CompletableFuture<PeerConnection> accepted = new CompletableFuture<>();
            try (PeerServer server = PeerServer.start(st, new InetSocketAddress("127.0.0.1", 0), peer -> true, accepted::complete)) {
                NettyPeerConnector connector = new NettyPeerConnector(ct, Map.of("hostB", server.address()),
                        Map.of("hostB", Set.of(PeerPermission.MIGRATE)));
                try (PeerConnection out = connector.connect("hostB");
                     PeerConnection in = accepted.get(20, TimeUnit.SECONDS)) {
                    assertEquals(List.of("hostB"), out.credentials().names());
                    assertTrue(in.credentials().authenticated());
                    assertEquals(List.of("hostA"), in.credentials().names());
                }
            }
        }
    }

    @Test
    void unusableMaterialIsRefusedWithOneLineNamingTheFile() throws Exception {
        Path ca = dir.resolve("ca");
        TlsFiles a = TestCerts.host(ca, "hostA");
        TlsFiles b = TestCerts.host(ca, "hostB");
        BiFunction<TlsFiles, String, String> refusal = (f, name) -> assertThrows(TlsException.class,
                () -> PeerTls.open(f, name)).getMessage();

        String mismatch = refusal.apply(new TlsFiles(a.ca(), a.cert(), b.key()), "hostA");
        assertTrue(mismatch.contains("tls-key " + b.key() + ": this key does not belong to the certificate in " + a.cert()), mismatch);

        String wrongName = refusal.apply(a, "hostZ");
        assertTrue(wrongName.contains("names hostA (subjectAltName DNS), not this daemon's name hostZ"), wrongName);

        String missing = refusal.apply(new TlsFiles(dir.resolve("nope.pem"), a.cert(), a.key()), "hostA");
        assertTrue(missing.contains("tls-ca " + dir.resolve("nope.pem") + ": no such file"), missing);

        String notCert = refusal.apply(new TlsFiles(a.key(), a.cert(), a.key()), "hostA");
        assertTrue(notCert.startsWith("tls-ca " + a.key() + ": holds a"), notCert);

        Path encrypted = dir.resolve("enc.key");
        Files.writeString(encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                + "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgAAAAAAAAAAAICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQME\n"
                + "ASoEEAAAAAAAAAAAAAAAAAAAAAAEQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                + "-----END ENCRYPTED PRIVATE KEY-----\n");
        String enc = refusal.apply(new TlsFiles(a.ca(), a.cert(), encrypted), "hostA");
        assertTrue(enc.contains("the key is encrypted") || enc.contains("not a"), enc);

        Instant now = Instant.now();
        TlsFiles expired = TestCerts.host(ca, "old", "hostA", LabCa.KeyType.EC, LabCa.KeyFormat.PKCS8,
                now.minus(Duration.ofDays(2)), now.minus(Duration.ofHours(1)));
        String old = refusal.apply(expired, "hostA");
        assertTrue(old.contains("tls-cert " + expired.cert() + ": the certificate") && old.contains("expired on"), old);
    }

    @Test
    void aReloadPicksUpNewFilesAndKeepsTheOldOnesWhenTheNewAreBad() throws Exception {
        Path ca = dir.resolve("ca");
        TlsFiles a = TestCerts.host(ca, "hostA");
        Path live = dir.resolve("live");
        Files.createDirectories(live);
        TlsFiles files = new TlsFiles(a.ca(), live.resolve("cert.pem"), live.resolve("key.pem"));
        Files.copy(a.cert(), files.cert());
        Files.copy(a.key(), files.key());
        PeerTls tls = PeerTls.open(files, "hostA");
        var before = tls.material().leaf().getSerialNumber();

        TlsFiles renewed = TestCerts.host(ca, "hostA-renewed", "hostA", LabCa.KeyType.RSA, LabCa.KeyFormat.TRADITIONAL,
                Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1)));
        Files.copy(renewed.cert(), files.cert(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(renewed.key(), files.key(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        tls.reload();
        assertTrue(!before.equals(tls.material().leaf().getSerialNumber()), "the new certificate is in use");
        handshake(PeerTls.open(TestCerts.host(ca, "hostB"), "hostB"), tls);

        Files.writeString(files.key(), "garbage\n");
        var current = tls.material().leaf().getSerialNumber();
        assertThrows(TlsException.class, tls::reload);
        assertEquals(current, tls.material().leaf().getSerialNumber(), "a failed reload keeps what works");
    }
}
