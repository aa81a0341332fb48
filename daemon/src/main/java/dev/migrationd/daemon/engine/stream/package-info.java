/**
 * The save stream in the engine, symmetric on both sides: {@link dev.migrationd.daemon.engine.stream.SourceStream}
 * writes a domain as a stream and {@link dev.migrationd.daemon.engine.stream.DestinationStream} applies one to a
 * domain being restored, each sealed over a legacy (Xen 4.0–4.5, docs/wire-format-legacy.md) and a v2
 * (docs/wire-format-v2.md) implementation that share nothing but their parent. The guest type's parts come from
 * the {@code guest} package; the bytes go out through a {@link dev.migrationd.daemon.engine.stream.StreamOut} (a
 * peer connection or a file). The formats themselves, reading and writing, are the {@code protocol} module's.
 *
 * <p>Threads: a stream is confined to the thread that drives it (a migration's, or the caller's for a file).
 */
package dev.migrationd.daemon.engine.stream;
