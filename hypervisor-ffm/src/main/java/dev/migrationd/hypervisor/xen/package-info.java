/**
 * The {@code xen} backend: FFM downcalls to the Xen 4.17 tool libraries on a dom0.
 *
 * <p>Layers, each replaceable in tests: {@link dev.migrationd.hypervisor.xen.XenLayouts} (the C structures,
 * checked against the installed headers), the ports {@code XenCtrl} (libxenctrl), {@code ForeignMemory}
 * (libxenforeignmemory) and {@code XenStore} (libxenstore) with one FFM binding class each
 * ({@code LibXenCtrl}, {@code LibXenForeignMemory}, {@code LibXenStore}: handles bound once, errno captured on
 * every call, failures as {@link dev.migrationd.hypervisor.ffm.NativeCallException}), and the adapter
 * ({@link dev.migrationd.hypervisor.xen.XenHypervisor} and its per-domain parts) that implements the
 * hypervisor interface over the ports. {@link dev.migrationd.hypervisor.xen.XenProvider} opens it, and only
 * on a Xen dom0.
 *
 * <p>Scope: HVM guests end to end (listing, pause/resume/destroy, log-dirty rounds, batched page mapping,
 * HVM context, params, TSC info, restore into a new paused domain). PV guests (64-bit and 32-bit PAE) end to
 * end as well: {@code PvSource} maps Xen's M2P, the guest's shared info and its p2m (the linear list of
 * {@code arch.p2m_cr3} through the guest's page tables, else the tree frame list list → frame list → p2m
 * frames); {@code PvCanonical} holds the stream's canonicalisation rules for page tables and
 * vCPU contexts; {@code PvRestore} builds the new p2m as frames are populated and runs the end-of-restore
 * steps (pinning, vCPUs with start_info, shared info, the guest's p2m) once their inputs have arrived, or at
 * the first {@code resume()}. Not done for PV, refused with a message naming it: moving PAE L3 tables below
 * 4 GiB for a guest without extended cr3 (refused only when an L3 landed above 4 GiB). Left to the toolstack, as for HVM:
 * new xenstore and console event channels (start_info keeps the source's numbers), introducing the domain to
 * xenstored and seeding its grant table.
 */
package dev.migrationd.hypervisor.xen;
