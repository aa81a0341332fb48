/**
 * What both FFM backends ({@code sim} over libc, {@code xen} over the Xen libraries) share for native errors:
 * {@link dev.migrationd.hypervisor.ffm.NativeCalls} binds downcalls that capture {@code errno}
 * ({@code Linker.Option.captureCallState("errno")}), reads it and its {@code strerror} text, and runs a call so
 * that a failure is a {@link dev.migrationd.hypervisor.ffm.NativeCallException} naming the call, its arguments,
 * the return code and the error.
 */
package dev.migrationd.hypervisor.ffm;
