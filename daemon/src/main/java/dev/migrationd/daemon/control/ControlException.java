package dev.migrationd.daemon.control;

import io.grpc.Status;
import java.util.Map;

/**
 * A control-API request refused by the service itself (before the engine sees it): its status code, and
 * for the {@code google.rpc.ErrorInfo} detail a reason (UPPER_SNAKE_CASE, stable for programs) and the
 * names involved.
 */
final class ControlException extends RuntimeException {
    private final Status.Code code;
    private final String reason;
    private final Map<String, String> metadata;

    ControlException(Status.Code code, String reason, Map<String, String> metadata, String message) {
        super(message, null, false, false);
        this.code = code;
        this.reason = reason;
        this.metadata = Map.copyOf(metadata);
    }

    /** A refusal whose reason is its code's name. */
    ControlException(Status.Code code, String message) {
        this(code, code.name(), Map.of(), message);
    }

    Status.Code code() {
        return code;
    }

    String reason() {
        return reason;
    }

    Map<String, String> metadata() {
        return metadata;
    }
}
