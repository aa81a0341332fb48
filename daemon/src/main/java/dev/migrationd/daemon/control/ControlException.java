package dev.migrationd.daemon.control;

import io.grpc.Status;

/** A control-API request refused by the service itself (before the engine sees it), with its status code. */
final class ControlException extends RuntimeException {
    private final Status.Code code;

    ControlException(Status.Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    Status.Code code() {
        return code;
    }
}
