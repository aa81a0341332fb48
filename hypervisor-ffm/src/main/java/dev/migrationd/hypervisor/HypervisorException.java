package dev.migrationd.hypervisor;

/**
 * A failed hypervisor operation. The message names the operation, the domain and the cause, as one
 * line: {@code "pause domain=dom7: domain is not running"}.
 */
public class HypervisorException extends Exception {

    private final String operation;
    private final String domain;

    public HypervisorException(String operation, String domain, String problem) {
        this(operation, domain, problem, null);
    }

    public HypervisorException(String operation, String domain, String problem, Throwable cause) {
        super(operation + (domain == null ? "" : " domain=" + domain) + ": " + problem, cause);
        this.operation = operation;
        this.domain = domain;
    }

    /** The operation that failed, e.g. {@code "pause"}, {@code "xc_shadow_control"}. */
    public String operation() {
        return operation;
    }

    /** The domain's name or id, or null for host-wide operations. */
    public String domain() {
        return domain;
    }
}
