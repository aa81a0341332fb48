package dev.migrationd.hypervisor.xen;

import dev.migrationd.hypervisor.HypervisorException;

/**
 * A failed call into a Xen library, as one line naming the call, its arguments, the return code and
 * {@code errno} with its {@code strerror} text, e.g.
 * {@code "xc_domain_pause domain=7: xc_domain_pause(domid=7) returned -1: errno 3 (No such process)"}.
 */
public final class XenCallException extends HypervisorException {

    private final String call;
    private final long returnCode;
    private final int errno;

    /**
     * @param call     the C function, e.g. {@code xc_domain_pause}
     * @param domain   the domain id as text, or null for host-wide calls
     * @param args     the arguments as {@code name=value} pairs, e.g. {@code "domid=7"}
     * @param rc       what the call returned (NULL pointers as 0)
     * @param errno    the captured {@code errno}
     * @param strerror {@code strerror(errno)}
     */
    public XenCallException(String call, String domain, String args, long rc, int errno, String strerror) {
        super(call, domain, call + "(" + args + ") returned " + rc + ": errno " + errno + " (" + strerror + ")");
        this.call = call;
        this.returnCode = rc;
        this.errno = errno;
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
}
