package dev.migrationd.daemon.control;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.hypervisor.HypervisorException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses. Every refusal carries a {@code google.rpc.ErrorInfo}
 * detail (domain {@link #ERROR_DOMAIN}, a stable UPPER_SNAKE_CASE reason, the names involved as metadata)
 * next to its one-line message for the operator. Expected failures are logged without a stack trace;
 * anything else is a bug: INTERNAL, logged with its stack trace.
 */
final class Errors {

    private static final Logger LOG = LoggerFactory.getLogger(Errors.class);
    /** {@code ErrorInfo.domain} of every error this server makes. */
    static final String ERROR_DOMAIN = "migrationd.dev";

    private Errors() {
    }

    /** A status code with its ErrorInfo reason and metadata. */
    record Mapped(Status.Code code, String reason, Map<String, String> metadata, String message) {
    }

    /** How {@code t} is answered. */
    static Mapped map(Throwable t) {
        return switch (t) {
            case ControlException e -> new Mapped(e.code(), e.reason(), e.metadata(), e.getMessage());
            case EngineException.DomainBusyException e -> new Mapped(Status.Code.FAILED_PRECONDITION, "DOMAIN_BUSY",
                    Map.of("domain", e.domain(), "migration", e.migrationId()), e.getMessage());
            case EngineException.UnknownMigrationException e ->
                    new Mapped(Status.Code.NOT_FOUND, "MIGRATION_NOT_FOUND", Map.of(), e.getMessage());
            // a peer missing from the daemon's configuration: the request is fine, the configuration is not there
            case EngineException.UnknownPeerException e ->
                    new Mapped(Status.Code.FAILED_PRECONDITION, "UNKNOWN_PEER", Map.of(), e.getMessage());
            case EngineException e -> new Mapped(switch (e.kind()) {
                case NOT_FOUND -> Status.Code.NOT_FOUND;
                case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
                case BUSY, FAILED_PRECONDITION -> Status.Code.FAILED_PRECONDITION;
                case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
                case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
                case INTERNAL -> Status.Code.INTERNAL;
            }, e.kind().name(), Map.of(), e.getMessage());
            // the hypervisor's message names the operation, the domain and the cause
            case HypervisorException e -> new Mapped(Status.Code.FAILED_PRECONDITION, "HYPERVISOR_REFUSED",
                    hypervisorMetadata(e), "hypervisor: " + e.getMessage());
            case IllegalArgumentException e -> new Mapped(Status.Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", Map.of(), e.getMessage());
            case UnsupportedOperationException e -> new Mapped(Status.Code.UNIMPLEMENTED, "NOT_IMPLEMENTED", Map.of(), e.getMessage());
            default -> new Mapped(Status.Code.INTERNAL, "INTERNAL_ERROR", Map.of(),
                    "internal error (a bug, please report it): " + t);
        };
    }

    private static Map<String, String> hypervisorMetadata(HypervisorException e) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("operation", e.operation());
        if (e.domain() != null) {
            m.put("domain", e.domain());
        }
        return m;
    }

    /** The exception that answers {@code t}: its status, message and ErrorInfo detail. */
    static StatusRuntimeException toException(Throwable t) {
        if (t instanceof StatusRuntimeException e) {
            return e;
        }
        if (t instanceof StatusException e) {
            return e.getStatus().asRuntimeException(e.getTrailers());
        }
        Mapped m = map(t);
        ErrorInfo info = ErrorInfo.newBuilder().setDomain(ERROR_DOMAIN).setReason(m.reason()).putAllMetadata(m.metadata()).build();
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(m.code().value()).setMessage(String.valueOf(m.message())).addDetails(Any.pack(info)).build());
    }

    /** Answers a failed call: logs it (one line, or with the stack trace for a bug) and sends the status. */
    static void fail(String rpc, StreamObserver<?> observer, Throwable t) {
        StatusRuntimeException answer = toException(t);
        Status s = answer.getStatus();
        if (s.getCode() == Status.Code.INTERNAL && !(t instanceof EngineException)) {
            LOG.atError().setMessage("event=rpc_failed")
                    .addKeyValue("rpc", rpc)
                    .addKeyValue("code", s.getCode())
                    .addKeyValue("error", s.getDescription())
                    .setCause(t).log();
        } else {
            LOG.atInfo().setMessage("event=rpc_refused")
                    .addKeyValue("rpc", rpc)
                    .addKeyValue("code", s.getCode())
                    .addKeyValue("reason", s.getDescription()).log();
        }
        try {
            observer.onError(answer);
        } catch (IllegalStateException alreadyClosed) {
            LOG.atDebug().setMessage("event=rpc_already_closed")
                    .addKeyValue("rpc", rpc).log();
        }
    }

    /** A unary call's body. */
    @FunctionalInterface
    interface Body<T> {
        T call() throws Exception;
    }

    /** Runs a unary call: its answer, or its failure mapped here. */
    static <T> void unary(String rpc, StreamObserver<T> observer, Body<T> body) {
        T answer;
        try {
            answer = body.call();
        } catch (Exception | LinkageError e) {
            fail(rpc, observer, e);
            return;
        }
        observer.onNext(answer);
        observer.onCompleted();
    }
}
