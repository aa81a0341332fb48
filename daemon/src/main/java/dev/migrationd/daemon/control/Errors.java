package dev.migrationd.daemon.control;

import dev.migrationd.daemon.engine.run.EngineException;
import dev.migrationd.hypervisor.HypervisorException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses. Expected failures keep their
 * one-line message for the operator and are logged without a stack trace; anything else is a bug:
 * INTERNAL, logged with its stack trace.
 */
final class Errors {

    private static final Logger LOG = LoggerFactory.getLogger(Errors.class);

    private Errors() {
    }

    /** The status for {@code t}. */
    static Status toStatus(Throwable t) {
        return switch (t) {
            case StatusRuntimeException e -> e.getStatus();
            case StatusException e -> e.getStatus();
            case ControlException e -> Status.fromCode(e.code()).withDescription(e.getMessage());
            case EngineException e -> Status.fromCode(switch (e.kind()) {
                case NOT_FOUND -> Status.Code.NOT_FOUND;
                case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
                case BUSY, FAILED_PRECONDITION -> Status.Code.FAILED_PRECONDITION;
                case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
                case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
                case INTERNAL -> Status.Code.INTERNAL;
            }).withDescription(e.getMessage());
            // the hypervisor's message names the operation, the domain and the cause
            case HypervisorException e -> Status.FAILED_PRECONDITION.withDescription("hypervisor: " + e.getMessage());
            case IllegalArgumentException e -> Status.INVALID_ARGUMENT.withDescription(e.getMessage());
            case UnsupportedOperationException e -> Status.UNIMPLEMENTED.withDescription(e.getMessage());
            default -> Status.INTERNAL.withDescription("internal error (a bug, please report it): " + t);
        };
    }

    /** Answers a failed call: logs it (one line, or with the stack trace for a bug) and sends the status. */
    static void fail(String rpc, StreamObserver<?> observer, Throwable t) {
        Status s = toStatus(t);
        if (s.getCode() == Status.Code.INTERNAL && !(t instanceof EngineException)) {
            LOG.error("event=rpc_failed rpc={} code={} error=\"{}\"", rpc, s.getCode(), s.getDescription(), t);
        } else {
            LOG.info("event=rpc_refused rpc={} code={} reason=\"{}\"", rpc, s.getCode(), s.getDescription());
        }
        try {
            observer.onError(s.asRuntimeException());
        } catch (IllegalStateException alreadyClosed) {
            LOG.debug("event=rpc_already_closed rpc={}", rpc);
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
