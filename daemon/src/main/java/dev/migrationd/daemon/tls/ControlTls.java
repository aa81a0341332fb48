package dev.migrationd.daemon.tls;

import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's mutual TLS on TCP ({@code control-tls-ca}, {@code control-tls-cert}, {@code control-tls-key}):
 * TLS 1.3 only, a client certificate required and checked against the configured CAs; the client certificate's
 * names are the caller's identity. The JDK's provider (a handful of calls, not a data path), with key and trust
 * managers that read the current material, so that {@link #reload()} (SIGHUP) takes effect for new connections
 * without rebuilding the listener; a reload that fails keeps the old material.
 *
 * <p>Threading: {@link #reload()} from the signal thread; handshakes on gRPC's event loops read the one volatile
 * reference to the current material.
 */
public final class ControlTls {

    private static final Logger LOG = LoggerFactory.getLogger(ControlTls.class);

    private final TlsFiles files;
    private volatile Managers current;

    private record Managers(TlsMaterial material, X509ExtendedKeyManager keys, X509ExtendedTrustManager trust) {
    }

    private ControlTls(TlsFiles files, Managers managers) {
        this.files = files;
        this.current = managers;
    }

    /** Reads and checks the files. */
    public static ControlTls open(TlsFiles files) throws TlsException {
        ControlTls tls = new ControlTls(files, managers(TlsMaterial.load(files)));
        TlsMaterial m = tls.current.material();
        LOG.info("event=control_tls_ready protocol={} cert_names={} cert_not_after={} cas={}", PeerTls.PROTOCOL,
                CertNames.describe(m.names()), m.notAfter(), m.trusted().size());
        return tls;
    }

    private static Managers managers(TlsMaterial m) throws TlsException {
        return new Managers(m, new HostKeyManager(m.key(), m.chain()), m.trustManager());
    }

    /** Re-reads the files; new connections use them, open ones keep theirs. On failure the old material stays. */
    public synchronized void reload() throws TlsException {
        Managers next = managers(TlsMaterial.load(files));
        current = next;
        LOG.info("event=control_tls_reloaded cert_names={} cert_not_after={} cas={}",
                CertNames.describe(next.material().names()), next.material().notAfter(), next.material().trusted().size());
    }

    public TlsFiles files() {
        return files;
    }

    /** The server context for a gRPC listener: TLS 1.3, ALPN h2, client certificate required. */
    public SslContext serverContext() throws TlsException {
        try {
            return GrpcSslContexts.configure(SslContextBuilder.forServer(new Keys()), SslProvider.JDK)
                    .protocols(PeerTls.PROTOCOL).clientAuth(ClientAuth.REQUIRE).trustManager(new Trust()).build();
        } catch (SSLException | RuntimeException e) {
            throw new TlsException("cannot build the control API's TLS context: " + e.getMessage(), e);
        }
    }

    /** The current key and chain, whatever the last reload read. */
    private final class Keys extends X509ExtendedKeyManager {
        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return current.keys().getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return current.keys().chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return current.keys().getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return current.keys().chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return current.keys().chooseEngineServerAlias(keyType, issuers, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return current.keys().getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return current.keys().getPrivateKey(alias);
        }
    }

    /** The current CAs. Names none in its certificate request, so every client shows what it has (see PeerTls). */
    private final class Trust extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            current.trust().checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            current.trust().checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            current.trust().checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            throw new CertificateException("the control listener does not act as a TLS client");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            throw new CertificateException("the control listener does not act as a TLS client");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the control listener does not act as a TLS client");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
