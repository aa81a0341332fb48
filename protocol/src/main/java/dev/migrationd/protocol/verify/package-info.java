/**
 * The stream verifier: reads a whole save stream file (or channel) with this module's readers and checks what a
 * receiver would, then reports what the stream holds. {@link dev.migrationd.protocol.verify.StreamVerifier} is the
 * entry point; {@link dev.migrationd.protocol.verify.Report} what it found.
 *
 * <p>Checked, beyond what {@code protocol.legacy}'s and {@code protocol.v2}'s readers check item by item:
 * <ul>
 *   <li>the toolstack header, if any (xl: length and mandatory flags, STREAMv2 set exactly when a v2 stream
 *       follows; xend: config length, and only before a legacy stream), docs/wire-format-legacy.md §12;</li>
 *   <li>the HVM context's record framing and CPU records ({@code x86.HvmContext}), docs/wire-format-legacy.md
 *       §10;</li>
 *   <li>each PV vCPU context: its size for the guest width, CR3 sent as a top-level page table, vcpu0's
 *       start_info and the GDT frames below p2m_size and not page tables, docs/wire-format-legacy.md §8.1;</li>
 *   <li>a PV v2 stream has at least one vCPU; nothing follows the end of the stream, except, after a bare libxc
 *       v2 stream, the raw QEMU record that Xen's {@code convert-legacy-stream} appends.</li>
 * </ul>
 * Errors carry file offsets (a toolstack header counts). The first problem found ends the verification.
 */
package dev.migrationd.protocol.verify;
