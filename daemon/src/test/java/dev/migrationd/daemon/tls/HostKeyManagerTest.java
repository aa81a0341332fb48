package dev.migrationd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.migrationd.control.cli.certs.LabCa;
import dev.migrationd.daemon.TestCerts;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The key manager offers the host's key only for a key type it can serve (the handshakes themselves, for each
 * key type and form and both providers, are in {@link PeerTlsTest}).
 */
class HostKeyManagerTest {

    @TempDir
    Path dir;

    private TlsMaterial material(LabCa.KeyType type) throws Exception {
        return TlsMaterial.load(TestCerts.host(dir, "h-" + type, "hostA", type, LabCa.KeyFormat.PKCS8,
                Instant.now().minusSeconds(60), Instant.now().plus(Duration.ofDays(1))));
    }

    @Test
    void anEcKeyAnswersEcRequestsOnly() throws Exception {
        TlsMaterial m = material(LabCa.KeyType.EC);
        HostKeyManager km = new HostKeyManager(m.key(), m.chain());
        assertEquals(HostKeyManager.ALIAS, km.chooseEngineServerAlias("EC", null, null));
        assertEquals(HostKeyManager.ALIAS, km.chooseEngineServerAlias("EC_RSA", null, null), "TLS 1.2 names: the key's part counts");
        assertNull(km.chooseEngineServerAlias("RSA", null, null));
        assertNull(km.chooseEngineServerAlias(null, null, null));
        assertEquals(HostKeyManager.ALIAS, km.chooseEngineClientAlias(new String[] {"RSA", "EC"}, null, null));
        assertNull(km.chooseEngineClientAlias(new String[] {"RSA", "RSASSA-PSS"}, null, null));
        assertSame(m.key(), km.getPrivateKey(HostKeyManager.ALIAS));
        assertArrayEquals(m.chain().toArray(), km.getCertificateChain(HostKeyManager.ALIAS));
        assertNull(km.getPrivateKey("other"));
        assertNull(km.getCertificateChain("other"));
    }

    @Test
    void anRsaKeyAnswersRsaRequests() throws Exception {
        TlsMaterial m = material(LabCa.KeyType.RSA);
        HostKeyManager km = new HostKeyManager(m.key(), m.chain());
        assertEquals(HostKeyManager.ALIAS, km.chooseServerAlias("RSA", null, null));
        assertNull(km.chooseServerAlias("EC", null, null));
        assertArrayEquals(new String[] {HostKeyManager.ALIAS}, km.getServerAliases("RSA", null));
    }
}
