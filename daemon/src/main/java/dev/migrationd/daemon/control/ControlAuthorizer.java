package dev.migrationd.daemon.control;

import dev.migrationd.daemon.tls.CertNames;
import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides every control-API call before the service sees it: who the caller is (by how it reached this
 * listener: the kernel's SO_PEERCRED on the Unix socket, the verified client certificate on mutual TLS, or
 * "anyone here" on plaintext loopback TCP), which role {@link ControlAccess} gives it, and which role the method
 * needs ({@link ControlMethods}). A caller without that role gets PERMISSION_DENIED naming the method, the role
 * it needs and the role the caller has; the refusal is logged ({@code event=control_refused}).
 *
 * <p>One instance per listener. Threading: gRPC calls it on its executor threads, concurrently; it keeps no
 * mutable state (the policy is read through a supplier of an immutable {@link ControlAccess}).
 */
public final class ControlAuthorizer implements ServerInterceptor {

    private static final Logger LOG = LoggerFactory.getLogger(ControlAuthorizer.class);

    /** The ErrorInfo reason of a refusal for want of a role. */
    public static final String REASON = "ROLE_REQUIRED";

    /** How callers reach a listener, which decides how they are identified. */
    public enum Transport {
        /** The Unix socket: the uid and gid the kernel reports for the connecting process. */
        UNIX,
        /** TCP with mutual TLS: the names of the client certificate the handshake verified. */
        TLS,
        /** Plaintext TCP bound to loopback: everyone here is the same caller, with {@code control-loopback-role}. */
        LOOPBACK
    }

    /** The kernel's credentials of the process at the other end of a Unix socket (SO_PEERCRED). */
    public record UnixPeer(int pid, int uid, int gid) {
    }

    /** Transport attribute set on Unix socket connections ({@link UnixPeerNegotiator}). */
    public static final Attributes.Key<UnixPeer> UNIX_PEER = Attributes.Key.create("dev.migrationd.unix-peer");

    private final Transport transport;
    private final Supplier<ControlAccess> access;
    private final UnixAccounts accounts;
    private final int selfUid;

    /**
     * @param selfUid the daemon's own uid (always an operator on the Unix socket)
     */
    public ControlAuthorizer(Transport transport, Supplier<ControlAccess> access, UnixAccounts accounts, int selfUid) {
        this.transport = transport;
        this.access = access;
        this.accounts = accounts;
        this.selfUid = selfUid;
    }

    public Transport transport() {
        return transport;
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        ControlMethods.Rule rule = ControlMethods.rule(method);
        if (rule instanceof ControlMethods.Rule.Open) {
            return next.startCall(call, headers);
        }
        ControlAccess.Caller caller = caller(call.getAttributes());
        String name = call.getMethodDescriptor().getBareMethodName();
        if (rule instanceof ControlMethods.Rule.Needs(ControlRole needed)) {
            if (caller.role().isPresent() && caller.role().get().covers(needed)) {
                return next.startCall(call, headers);
            }
            String has = caller.role().map(r -> "has the " + r.word() + " role (" + caller.why() + ")")
                    .orElse("has no role (" + caller.why() + ")");
            return refuse(call, name, needed.word(), caller, name + " needs the " + needed.word() + " role; "
                    + caller.who() + " " + has);
        }
        return refuse(call, name, "none", caller, name + " has no entry in the daemon's role table, so it is refused "
                + "to everyone (a bug: please report it)");
    }

    private <Q, A> ServerCall.Listener<Q> refuse(ServerCall<Q, A> call, String method, String needed,
                                                  ControlAccess.Caller caller, String message) {
        LOG.atWarn().setMessage("event=control_refused")
                .addKeyValue("rpc", method)
                .addKeyValue("transport", transport.name().toLowerCase(java.util.Locale.ROOT))
                .addKeyValue("caller", caller.who())
                .addKeyValue("role", caller.role().map(ControlRole::word).orElse("none"))
                .addKeyValue("needed", needed).log();
        StatusRuntimeException e = Errors.toException(new ControlException(io.grpc.Status.Code.PERMISSION_DENIED, REASON,
                Map.of("operation", method, "role", needed, "caller", caller.who()), message));
        call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
        return new ServerCall.Listener<>() {
        };
    }

    /** Who called, as this listener's transport identifies callers. */
    ControlAccess.Caller caller(Attributes attributes) {
        ControlAccess policy = access.get();
        return switch (transport) {
            case LOOPBACK -> policy.loopbackCaller();
            case UNIX -> {
                UnixPeer peer = attributes.get(UNIX_PEER);
                yield peer == null ? new ControlAccess.Caller("unknown Unix peer", Optional.empty(), "no peer credentials")
                        : policy.unixCaller(peer.uid(), peer.gid(), selfUid, accounts);
            }
            case TLS -> {
                List<String> names = certificateNames(attributes.get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                yield names.isEmpty() ? new ControlAccess.Caller("TLS client without a usable certificate", Optional.empty(),
                        "no certificate names") : policy.certificateCaller(names);
            }
        };
    }

    /**
     * The names of the verified client certificate: its subjectAltName DNS entries, or, when it has none, the
     * common names of its subject (as client certificates for people are usually written).
     */
    static List<String> certificateNames(SSLSession session) {
        if (session == null) {
            return List.of();
        }
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            return List.of();
        }
        List<String> dns = CertNames.dnsNames(chain);
        if (!dns.isEmpty() || chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            return dns;
        }
        try {
            return new LdapName(leaf.getSubjectX500Principal().getName()).getRdns().stream()
                    .filter(r -> r.getType().equalsIgnoreCase("CN")).map(Rdn::getValue).map(String::valueOf).toList();
        } catch (InvalidNameException e) {
            return List.of();
        }
    }
}
