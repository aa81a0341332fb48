/**
 * In-process conversion of a legacy save stream into a v2 stream: {@link
 * dev.migrationd.protocol.convert.LegacyToV2Converter} maps legacy items as Xen's {@code convert-legacy-stream}
 * does (docs/wire-format-v2.md §5), keeping every checkpoint and the PV tail's unmapped PFNs (as XTAB entries);
 * {@link dev.migrationd.protocol.convert.LegacyToV2Pipeline} couples it to the legacy reader for bytes in, bytes out.
 */
package dev.migrationd.protocol.convert;
