/**
 * The Xen save/restore/migration streams, JDK only: nothing here knows the transport (Netty) or the hypervisor
 * (FFM); the daemon, the hypervisor backends and the tools all build on these types.
 *
 * <ul>
 *   <li>What both formats share: {@link dev.migrationd.protocol.GuestType}, {@link dev.migrationd.protocol.Width},
 *       {@link dev.migrationd.protocol.PageType}; {@link dev.migrationd.protocol.ByteSink}, where a writer puts its
 *       bytes (buffers handed over, page data as views); {@link dev.migrationd.protocol.StreamLimits}, the bound of
 *       every length a reader takes from a stream; the errors, {@link dev.migrationd.protocol.StreamFatalException}
 *       (framing lost) and {@link dev.migrationd.protocol.RecordException} (bad content), each naming item, code
 *       and offset.</li>
 *   <li>{@link dev.migrationd.protocol.legacy}: the legacy stream (Xen 4.0–4.5, docs/wire-format-legacy.md).</li>
 *   <li>{@link dev.migrationd.protocol.v2}: the v2 stream (Xen 4.6+, docs/wire-format-v2.md).</li>
 *   <li>{@link dev.migrationd.protocol.x86}: the guest structures and values both streams carry (vCPU contexts,
 *       shared info, XSAVE, HVM context, TSC, HVM param indexes).</li>
 *   <li>{@link dev.migrationd.protocol.convert}: legacy to v2, as Xen's {@code convert-legacy-stream}.</li>
 *   <li>{@link dev.migrationd.protocol.synth}: plausible streams of either format for tests and demos.</li>
 * </ul>
 */
package dev.migrationd.protocol;
