package dev.migrationd.daemon.tls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * This host's one key and certificate chain as a key manager, held as they were read: no key store in between.
 *
 * <p>The JDK's and Netty's usual route (a PKCS#12 key store filled with the key, then a key manager factory over
 * it) protects the key with 10,000 rounds of PBKDF2 when it goes in and again when it comes out, although the
 * store never leaves memory. On a real host that is tens of milliseconds; in an emulated dom0 it was the largest
 * part of the daemon's start-up, paid once per TLS context built (peer server, peer client, control listener).
 *
 * <p>Immutable; any thread.
 */
final class HostKeyManager extends X509ExtendedKeyManager {

    /** The only alias there is. */
    static final String ALIAS = "host";

    private final PrivateKey key;
    private final X509Certificate[] chain;

    HostKeyManager(PrivateKey key, List<X509Certificate> chain) {
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("a key manager needs at least the host's own certificate");
        }
        this.key = key;
        this.chain = chain.toArray(X509Certificate[]::new);
    }

    /**
     * Whether this host's key answers a request for {@code keyType}: "RSA", "EC", "RSASSA-PSS", "Ed25519", or
     * such a name followed by "_" and the certificate's signature algorithm (TLS 1.2 names such as "EC_RSA"),
     * of which only the key's part is compared, as the JDK's own key managers do.
     */
    private boolean serves(String keyType) {
        if (keyType == null) {
            return false;
        }
        int cut = keyType.indexOf('_');
        String wanted = cut < 0 ? keyType : keyType.substring(0, cut);
        String have = chain[0].getPublicKey().getAlgorithm();
        return wanted.toUpperCase(Locale.ROOT).equals(have.toUpperCase(Locale.ROOT));
    }

    private String aliasFor(String keyType) {
        return serves(keyType) ? ALIAS : null;
    }

    private String aliasFor(String[] keyTypes) {
        if (keyTypes != null) {
            for (String t : keyTypes) {
                if (serves(t)) {
                    return ALIAS;
                }
            }
        }
        return null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return serves(keyType) ? new String[] {ALIAS} : null;
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return aliasFor(keyType);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return aliasFor(keyType);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return serves(keyType) ? new String[] {ALIAS} : null;
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return aliasFor(keyType);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return aliasFor(keyType);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        return ALIAS.equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return ALIAS.equals(alias) ? key : null;
    }
}
