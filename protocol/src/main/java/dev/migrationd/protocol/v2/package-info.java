/**
 * The Xen migration stream v2 (Xen 4.6+; spec {@code docs/wire-format-v2.md}): the libxc layer (image header, domain
 * header, records 0x00–0x12) and the libxl layer around it (header, LIBXC_CONTEXT, emulator records,
 * checkpoint records, END).
 *
 * <ul>
 *   <li>{@link dev.migrationd.protocol.v2.V2Format}: every constant, named as Xen names it, with octet layouts.</li>
 *   <li>Items: {@link dev.migrationd.protocol.v2.LibxcItem} / {@link dev.migrationd.protocol.v2.LibxlItem}, small
 *       immutable records that read and write their own bodies; records of one shape share one class.</li>
 *   <li>{@link dev.migrationd.protocol.v2.LibxcWriter}, {@link dev.migrationd.protocol.v2.LibxlWriter}: write to a
 *       {@link dev.migrationd.protocol.ByteSink}; fresh buffers for headers and fixed fields, pages as views,
 *       never a buffer reused after it was handed over.</li>
 *   <li>{@link dev.migrationd.protocol.v2.LibxcReader}, {@link dev.migrationd.protocol.v2.LibxlReader}: push-based,
 *       any split, every length bounded by {@link dev.migrationd.protocol.StreamLimits} before it sizes anything,
 *       only {@link dev.migrationd.protocol.StreamException} subclasses on bad input.</li>
 * </ul>
 * Threading: readers and writers are confined to the thread that drives them.
 */
package dev.migrationd.protocol.v2;
