/**
 * The x86 guest structures the save streams carry (docs/wire-format-legacy.md §8, §10), as small views over a
 * {@link java.lang.foreign.MemorySegment} or {@code byte[]} with every offset named:
 * <ul>
 *   <li>{@link dev.migrationd.protocol.x86.PvVcpuContext} — PV {@code vcpu_guest_context}, 64-bit (0x1430) and
 *       32-bit (0xAF0) guests; {@link dev.migrationd.protocol.x86.PvExtVcpuContext} (128 bytes);
 *       {@link dev.migrationd.protocol.x86.XsaveRecord}; {@link dev.migrationd.protocol.x86.SharedInfo}.</li>
 *   <li>{@link dev.migrationd.protocol.x86.HvmContext} — the HVM context blob (builder and validating parser),
 *       {@link dev.migrationd.protocol.x86.HvmHwCpu} (the 1024-byte CPU record),
 *       {@link dev.migrationd.protocol.x86.HvmSaveType}; {@link dev.migrationd.protocol.x86.QemuSavevm}.</li>
 * </ul>
 * Each has a {@code resetState(...)} factory: the plausible state {@code migrationctl stream synth} writes and
 * the simulated hypervisor gives its domains. Layouts are checked against Xen's public headers in tests.
 */
package dev.migrationd.protocol.x86;
