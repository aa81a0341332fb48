/**
 * The {@code xen} backend: FFM downcalls to the Xen 4.17 tool libraries on a dom0.
 *
 * <p>Layers, each replaceable in tests: {@link dev.migrationd.hypervisor.xen.XenLayouts} (the C structures,
 * checked against the installed headers), the ports {@code XenCtrl} (libxenctrl), {@code ForeignMemory}
 * (libxenforeignmemory) and {@code XenStore} (libxenstore) with one FFM binding class each
 * ({@code LibXenCtrl}, {@code LibXenForeignMemory}, {@code LibXenStore}: handles bound once, errno captured on
 * every call, failures as {@link dev.migrationd.hypervisor.xen.XenCallException}), and the adapter
 * ({@link dev.migrationd.hypervisor.xen.XenHypervisor} and its per-domain parts) that implements the
 * hypervisor interface over the ports. {@link dev.migrationd.hypervisor.xen.XenProvider} opens it, and only
 * on a Xen dom0.
 *
 * <p>Scope: HVM guests end to end (listing, pause/resume/destroy, log-dirty rounds, batched page mapping,
 * HVM context, params, TSC info, restore into a new paused domain). PV guests can be listed, paused, resumed,
 * destroyed and log-dirty tracked; their memory and vCPU state need p2m/M2P translation and page-table
 * canonicalisation, which fail with a clear message for now.
 */
package dev.migrationd.hypervisor.xen;
