/**
 * Save to a file and restore from one ({@link dev.migrationd.daemon.engine.file.SaveRestore}), through the same
 * streams and page sender a migration uses: the file holds exactly the save stream, and a {@code FILE.meta}
 * beside it the domain's shape and the stream's format. With the requests and results the control API uses.
 *
 * <p>Threads: a save or restore runs on the caller's thread, while the engine holds the domain for it.
 */
package dev.migrationd.daemon.engine.file;
