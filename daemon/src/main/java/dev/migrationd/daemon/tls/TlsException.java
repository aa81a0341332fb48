package dev.migrationd.daemon.tls;

/** TLS material cannot be used; the message is one line naming the file and the problem. */
public final class TlsException extends Exception {
    public TlsException(String message) {
        super(message);
    }

    public TlsException(String message, Throwable cause) {
        super(message, cause);
    }
}
