package dev.migrationd.hypervisor.ffm;

import dev.migrationd.hypervisor.HypervisorException;

/**
 * A failed native call (libc, a Xen library), as one line naming the call, its arguments, the return code and
 * {@code errno} with its {@code strerror} text, e.g.
 * {@code "xc_domain_pause domain=7: xc_domain_pause(domid=7) returned -1: errno 3 (No such process)"}.
 */
public final class NativeCallException extends HypervisorException {

    private final String call;
    private final long returnCode;
    private final int errno;
    private final String problem;

    /**
     * @param call     the C function, e.g. {@code xc_domain_pause}
     * @param domain   the domain id as text, or null for host-wide calls
     * @param args     the arguments as {@code name=value} pairs, e.g. {@code "domid=7"}
     * @param rc       what the call returned (NULL pointers as 0)
     * @param errno    the captured {@code errno}
     * @param strerror {@code strerror(errno)}
     */
    public NativeCallException(String call, String domain, String args, long rc, int errno, String strerror) {
        this(call, domain, call + "(" + args + ") returned " + rc + ": errno " + errno + " (" + strerror + ")", rc,
                errno);
    }

    private NativeCallException(String call, String domain, String problem, long rc, int errno) {
        super(call, domain, problem);
        this.call = call;
        this.returnCode = rc;
        this.errno = errno;
        this.problem = problem;
    }

    /** The C function that failed. */
    public String call() {
        return call;
    }

    public long returnCode() {
        return returnCode;
    }

    public int errno() {
        return errno;
    }

    /**
     * The failure without the operation prefix, {@code "call(args) returned rc: errno N (text)"}: for a caller
     * that reports it as part of its own operation.
     */
    public String problem() {
        return problem;
    }
}
