/**
 * The offline stream tools, {@code stream synth|inspect|verify|convert}: they run in the CLI's process on local
 * files, with protocol's synthesiser, verifier ({@code protocol.verify}) and converter. Outputs go through
 * {@link dev.migrationd.control.cli.stream.AtomicOutput}: never replaced without {@code --force}, never left
 * half-written.
 */
package dev.migrationd.control.cli.stream;
