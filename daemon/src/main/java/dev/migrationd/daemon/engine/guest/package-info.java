/**
 * What differs between PV and HVM guests, after Xen's per-guest-type save and restore ops:
 * {@link dev.migrationd.daemon.engine.guest.GuestOps} declares the source's and the destination's side, and
 * {@code PvOps} and {@code HvmOps} implement them for one guest type each, in both stream formats, so that the
 * stream classes never look at the guest type.
 *
 * <p>Threads: one source or destination object per stream, confined to the thread that drives the stream.
 */
package dev.migrationd.daemon.engine.guest;
