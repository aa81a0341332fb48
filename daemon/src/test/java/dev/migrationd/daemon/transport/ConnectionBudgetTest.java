package dev.migrationd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

/** The two budgets of incoming connections: per address and in total while unauthenticated, then per peer. */
class ConnectionBudgetTest {

    static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void oneAddressGetsItsShareOthersStillGetIn() throws Exception {
        ConnectionBudget b = new ConnectionBudget(4, 10, 3);
        for (int i = 0; i < 3; i++) {
            assertNull(b.enter(b.slot(ip("10.0.0.9"))));
        }
        assertEquals(PeerRefusal.HANDSHAKES_PER_ADDRESS, b.enter(b.slot(ip("10.0.0.9"))));
        assertNull(b.enter(b.slot(ip("10.0.0.1"))), "another address still gets a place");
        assertEquals(3, b.handshakesFrom(ip("10.0.0.9")));
        assertEquals(4, b.handshakes());
    }

    @Test
    void theTotalBoundsManyAddresses() throws Exception {
        ConnectionBudget b = new ConnectionBudget(4, 5, 2);
        for (int i = 1; i <= 5; i++) {
            assertNull(b.enter(b.slot(ip("10.0.0." + i))));
        }
        assertEquals(PeerRefusal.HANDSHAKES, b.enter(b.slot(ip("10.0.0.6"))));
        assertEquals(5, b.handshakes());
    }

    @Test
    void anIpv6HostCountsByItsSlash64() throws Exception {
        ConnectionBudget b = new ConnectionBudget(4, 10, 2);
        assertNull(b.enter(b.slot(ip("2001:db8:1:2::1"))));
        assertNull(b.enter(b.slot(ip("2001:db8:1:2:ffff::7"))));
        assertEquals(PeerRefusal.HANDSHAKES_PER_ADDRESS, b.enter(b.slot(ip("2001:db8:1:2:abcd::1"))),
                "the same /64 under another address");
        assertNull(b.enter(b.slot(ip("2001:db8:1:3::1"))), "the next /64 is another address");
        assertEquals("10.1.2.3", ConnectionBudget.addressKey(ip("::ffff:10.1.2.3")), "an IPv4-mapped address is its IPv4 address");
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 10;
        mapped[15] = 7;
        assertEquals("10.0.0.7", ConnectionBudget.addressKey(java.net.Inet6Address.getByAddress(null, mapped, -1)),
                "also when it comes as an Inet6Address");
    }

    @Test
    void aProvenPeerLeavesTheHandshakeBudgetAndCountsAsAPeer() throws Exception {
        ConnectionBudget b = new ConnectionBudget(1, 2, 2);
        ConnectionBudget.Slot first = b.slot(ip("10.0.0.1"));
        ConnectionBudget.Slot second = b.slot(ip("10.0.0.1"));
        assertNull(b.enter(first));
        assertNull(b.enter(second));
        assertEquals(PeerRefusal.HANDSHAKES_PER_ADDRESS, b.enter(b.slot(ip("10.0.0.1"))));
        assertNull(b.promote(first));
        assertFalse(b.unauthenticated(first));
        assertEquals(1, b.handshakes());
        assertEquals(1, b.peers());
        assertNull(b.enter(b.slot(ip("10.0.0.1"))), "the promoted connection's handshake place is free again");
        assertEquals(PeerRefusal.PEER_CONNECTIONS, b.promote(second), "max-peer-connections 1 is taken");
        assertEquals(1, b.handshakes(), "the refused promotion gave its handshake place back");
        b.release(second); // its close: nothing more to give back
        b.release(first);
        b.release(first);
        assertEquals(0, b.peers());
        assertEquals(1, b.handshakes());
    }

    @Test
    void releasingAnUnauthenticatedConnectionFreesItsAddressEntry() throws Exception {
        ConnectionBudget b = new ConnectionBudget(1, 1, 1);
        ConnectionBudget.Slot s = b.slot(ip("10.0.0.1"));
        assertNull(b.enter(s));
        assertTrue(b.unauthenticated(s));
        b.release(s);
        assertFalse(b.unauthenticated(s));
        assertEquals(0, b.handshakesFrom(ip("10.0.0.1")));
        assertNull(b.enter(b.slot(ip("10.0.0.2"))));
    }
}
