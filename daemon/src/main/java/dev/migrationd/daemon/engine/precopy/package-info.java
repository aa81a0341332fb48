/**
 * Pre-copy: the policies that decide after each round whether to continue, throttle, stop and copy, or give up
 * ({@link dev.migrationd.daemon.engine.precopy.PrecopyPolicy}, pure functions of a round's statistics, built by
 * {@link dev.migrationd.daemon.engine.precopy.Policies}), and the
 * {@link dev.migrationd.daemon.engine.precopy.PageSender} that sends the pages a dirty bitmap names, as views of
 * guest memory, within the bandwidth cap.
 *
 * <p>Threads: the policies have no state; a page sender is confined to the thread of the migration (or save)
 * that drives it.
 */
package dev.migrationd.daemon.engine.precopy;
