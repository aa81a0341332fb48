package dev.migrationd.daemon;

import dev.migrationd.daemon.engine.peer.PeerPermission;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Peer permissions for tests whose subject is not authorisation: every configured peer may do everything. */
public final class TestPeers {

    private TestPeers() {
    }

    public static Map<String, Set<PeerPermission>> allowAll(Map<String, ?> peers) {
        Map<String, Set<PeerPermission>> out = new LinkedHashMap<>();
        for (String p : peers.keySet()) {
            out.put(p, EnumSet.allOf(PeerPermission.class));
        }
        return out;
    }
}
