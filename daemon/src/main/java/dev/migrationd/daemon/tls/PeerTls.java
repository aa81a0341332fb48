package dev.migrationd.daemon.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The peer link's mutual TLS: TLS 1.3 only, a client certificate required, both sides' certificates
 * checked against the configured CAs. OpenSSL (BoringSSL, through netty-tcnative) where it loads, the
 * JDK's provider otherwise; which one is logged at start.
 *
 * <p>The material is re-read by {@link #reload()} (SIGHUP); connections made afterwards use the new
 * material, connections already open keep theirs, so running migrations are not dropped. A reload that
 * fails keeps the old material and says why.
 *
 * <p>The trust manager remembers, per remote address, the names a refused certificate claimed (not
 * verified: for the refusal's log line only); {@link #claimedBy} hands them to the transport once.
 *
 * <p>Threading: {@link #reload()} from the signal thread; the handler factories and {@link #claimedBy}
 * from event loops; the current contexts are one volatile reference.
 */
public final class PeerTls {

    private static final Logger LOG = LoggerFactory.getLogger(PeerTls.class);

    /** The only protocol offered: TLS 1.3 (no renegotiation, no RSA key exchange, encrypted certificates). */
    public static final String PROTOCOL = "TLSv1.3";
    /** OpenSSL's X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY (x509_vfy.h), which it reports as alert unknown_ca. */
    static final int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20;
    /** Remembered refused-certificate claims at most (one per connection being refused; older ones dropped). */
    static final int MAX_REMEMBERED_CLAIMS = 4096;

    private final TlsFiles files;
    private final String localName;
    private final SslProvider provider;
    private volatile Contexts current;
    private final Map<String, String> refusedClaims = new ConcurrentHashMap<>();

    private record Contexts(TlsMaterial material, SslContext server, SslContext client) {
    }

    private PeerTls(TlsFiles files, String localName, SslProvider provider, Contexts contexts) {
        this.files = files;
        this.localName = localName;
        this.provider = provider;
        this.current = contexts;
    }

    /**
     * Reads the material and builds the contexts.
     *
     * @param localName this daemon's peer name: its certificate must name it (a subjectAltName DNS entry),
     *                  since that is how its peers will check it
     */
    public static PeerTls open(TlsFiles files, String localName) throws TlsException {
        return open(files, localName, chooseProvider());
    }

    /** As {@link #open(TlsFiles, String)} with the JDK's provider whatever is available (its fallback, tested as such). */
    public static PeerTls openWithJdkProvider(TlsFiles files, String localName) throws TlsException {
        return open(files, localName, SslProvider.JDK);
    }

    private static PeerTls open(TlsFiles files, String localName, SslProvider provider) throws TlsException {
        PeerTls tls = new PeerTls(files, localName, provider, null);
        tls.current = tls.build(TlsMaterial.load(files));
        TlsMaterial m = tls.current.material();
        LOG.info("event=peer_tls_ready provider={} protocol={} cert_names={} cert_not_after={} cas={}",
                providerName(provider), PROTOCOL, CertNames.describe(m.names()), m.notAfter(), m.trusted().size());
        return tls;
    }

    /** OpenSSL where netty-tcnative loads and offers TLS 1.3, the JDK otherwise. */
    static SslProvider chooseProvider() {
        if (OpenSsl.isAvailable() && SslProvider.isTlsv13Supported(SslProvider.OPENSSL)) {
            return SslProvider.OPENSSL;
        }
        Throwable why = OpenSsl.unavailabilityCause();
        LOG.info("event=peer_tls_provider provider=jdk reason=\"{}\"", why == null ? "OpenSSL has no TLS 1.3" : why.toString());
        return SslProvider.JDK;
    }

    private static String providerName(SslProvider p) {
        return p == SslProvider.JDK ? "jdk" : "openssl(" + OpenSsl.versionString() + ")";
    }

    /** {@code openssl} or {@code jdk}: which implementation runs the handshakes and the ciphers. */
    public String provider() {
        return provider == SslProvider.JDK ? "jdk" : "openssl";
    }

    public TlsFiles files() {
        return files;
    }

    /** The material in use now. */
    public TlsMaterial material() {
        return current.material();
    }

    /**
     * Re-reads the files. New connections use the new material; open ones keep theirs. On failure the
     * old material stays in use.
     *
     * @throws TlsException why the new material cannot be used
     */
    public synchronized void reload() throws TlsException {
        Contexts next = build(TlsMaterial.load(files));
        current = next;
        LOG.info("event=peer_tls_reloaded cert_names={} cert_not_after={} cas={}", CertNames.describe(next.material().names()),
                next.material().notAfter(), next.material().trusted().size());
    }

    private Contexts build(TlsMaterial m) throws TlsException {
        if (!m.names().contains(localName)) {
            throw new TlsException("tls-cert " + files.cert() + ": the certificate names " + CertNames.describe(m.names())
                    + " (subjectAltName DNS), not this daemon's name " + localName + "; its peers would refuse it");
        }
        X509ExtendedTrustManager trust = new RememberingTrustManager(m.trustManager());
        // the key goes to Netty as a key manager, not as key and chain: those it would put through a PKCS#12 store
        HostKeyManager keys = new HostKeyManager(m.key(), m.chain());
        try {
            SslContext server = SslContextBuilder.forServer(keys).sslProvider(provider).protocols(PROTOCOL)
                    .clientAuth(ClientAuth.REQUIRE).trustManager(trust).build();
            // the destination's name is checked by the transport against the peer it meant to reach
            // (CertNames), with a message that says which names the certificate has
            SslContext client = SslContextBuilder.forClient().keyManager(keys).sslProvider(provider)
                    .protocols(PROTOCOL).trustManager(trust).endpointIdentificationAlgorithm(null).build();
            return new Contexts(m, server, client);
        } catch (SSLException | RuntimeException e) {
            throw new TlsException("cannot build TLS contexts from " + files.cert() + " and " + files.key() + ": "
                    + e.getMessage(), e);
        }
    }

    /** A handler for an accepted connection from {@code host:port} (client certificate required). */
    public SslHandler serverHandler(ByteBufAllocator alloc, String host, int port) {
        return current.server().newHandler(alloc, host, port);
    }

    /** A handler for a connection to the peer {@code peerName} at {@code port} (the name goes as SNI). */
    public SslHandler clientHandler(ByteBufAllocator alloc, String peerName, int port) {
        return current.client().newHandler(alloc, peerName, port);
    }

    /** The names a refused client certificate from {@code host:port} claimed (unverified), or "none"; once. */
    public String claimedBy(String host, int port) {
        String c = refusedClaims.remove(host + ":" + port);
        return c == null ? "none" : c;
    }

    /**
     * Describes why a TLS connection failed, from the exception and the TLS alert in it (both the JDK's
     * "Received fatal alert: certificate_expired" and BoringSSL's "...TLSV1_ALERT_CERTIFICATE_EXPIRED" forms).
     */
    public static String describeFailure(Throwable t) {
        String all = chain(t);
        String lower = all.toLowerCase(java.util.Locale.ROOT);
        for (Map.Entry<String, String> e : ALERTS.entrySet()) {
            if (lower.contains(e.getKey())) {
                return e.getValue();
            }
        }
        return all;
    }

    /** Whether the failure carries a TLS alert the other side sent (it refused us), as far as the text tells. */
    public static boolean isAlertFromPeer(Throwable t) {
        String lower = chain(t).toLowerCase(java.util.Locale.ROOT);
        return lower.contains("received fatal alert") || lower.contains("tlsv1_alert") || lower.contains("sslv3_alert")
                || lower.contains("tlsv13_alert");
    }

    private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    private static String chain(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null && b.length() < 2000; c = c.getCause() == c ? null : c.getCause()) {
            if (!b.isEmpty()) {
                b.append(": ");
            }
            b.append(c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage());
        }
        return b.toString();
    }

    /** Alert name (lower case; found in both spellings) → what it means for a certificate, in order of precedence. */
    private static final Map<String, String> ALERTS = orderedAlerts();

    private static Map<String, String> orderedAlerts() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        String expired = "expired certificate (TLS alert certificate_expired)";
        String unknownCa = "unknown CA: the certificate is not signed by a CA it trusts (TLS alert unknown_ca)";
        String required = "no certificate was presented (TLS alert certificate_required)";
        String unknown = "certificate not accepted: unknown CA, expired or otherwise invalid (TLS alert certificate_unknown)";
        String bad = "bad certificate (TLS alert bad_certificate)";
        m.put("certificate_expired", expired);
        m.put("unknown_ca", unknownCa);
        m.put("certificate_required", required);
        m.put("certificate_unknown", unknown);
        m.put("bad_certificate", bad);
        m.put("protocol_version", "no common TLS version (TLS 1.3 only) (TLS alert protocol_version)");
        m.put("handshake_failure", "TLS handshake failure (TLS alert handshake_failure)");
        return m;
    }

    /**
     * The configured CAs' PKIX trust manager, which also remembers, for a refused client, what its
     * certificate claimed to be (so the refusal can be logged with the peer's claimed identity).
     */
    private final class RememberingTrustManager extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;

        RememberingTrustManager(X509ExtendedTrustManager delegate) {
            this.delegate = delegate;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            try {
                delegate.checkClientTrusted(chain, authType, engine);
            } catch (CertificateException | RuntimeException e) {
                remember(engine, chain);
                Exception mapped = forAlert(e);
                if (mapped instanceof CertificateException ce) {
                    throw ce;
                }
                throw (RuntimeException) mapped;
            }
        }

        /**
         * OpenSSL turns an exception it cannot classify into an internal_error alert, which tells the
         * refused peer nothing; a certificate that chains to no trusted CA becomes OpenSSL's "unable to get
         * local issuer certificate" (alert unknown_ca). Expiry it already classifies (certificate_expired).
         */
        private Exception forAlert(Exception e) {
            if (provider != SslProvider.JDK && causedBy(e, java.security.cert.CertPathBuilderException.class)) {
                var unknownCa = new io.netty.handler.ssl.OpenSslCertificateException(e.getMessage(),
                        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
                unknownCa.initCause(e);
                return unknownCa;
            }
            return e;
        }

        private void remember(SSLEngine engine, X509Certificate[] chain) {
            if (engine != null && engine.getPeerHost() != null && refusedClaims.size() < MAX_REMEMBERED_CLAIMS) {
                refusedClaims.put(engine.getPeerHost() + ":" + engine.getPeerPort(), CertNames.describe(CertNames.dnsNames(chain)));
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            delegate.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
        }

        /**
         * None named: a server that names its CAs in its certificate request makes a client whose certificate
         * is from another CA send no certificate at all, and the refusal could then say only "no certificate".
         * Naming none, every client presents what it has, which is verified all the same (against
         * {@link #delegate}), and the refusal names the real problem and the name the certificate claimed.
         */
        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /** For tests and logs: the current certificate's names. */
    public List<String> names() {
        return current.material().names();
    }
}
