package dev.migrationd.control.cli.migrate;

import dev.migrationd.control.cli.ExitCode;
import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;
import sun.misc.Signal;

/**
 * Ctrl-C while following a migration asks what to do instead of just leaving: cancel it, detach (it goes
 * on), or keep watching. Without a terminal to ask, Ctrl-C detaches and says how to cancel. The handler
 * runs on the JVM's signal thread; it only calls {@link Follower#cancel()} or exits.
 */
public final class Interrupts {

    private Interrupts() {
    }

    /** What the user chose. */
    enum Choice { CANCEL, DETACH, WATCH }

    /** Parses the answer; an empty answer keeps watching. */
    static Choice parse(String answer) {
        if (answer == null) {
            return Choice.DETACH;
        }
        return switch (answer.trim().toLowerCase(Locale.ROOT)) {
            case "c", "cancel", "y", "yes" -> Choice.CANCEL;
            case "d", "detach" -> Choice.DETACH;
            default -> Choice.WATCH;
        };
    }

    /** Installs the Ctrl-C handler for what {@code follower} follows (a migration, a save or a restore). */
    public static void install(Follower follower, PrintWriter err) {
        String id = follower.id();
        String noun = follower.noun();
        Signal.handle(new Signal("INT"), signal -> {
            Console console = System.console();
            Choice choice = console == null || !console.isTerminal() ? Choice.DETACH
                    : parse(console.readLine("%n%s %s: [c]ancel it, [d]etach (it goes on), or keep [w]atching? [w] ", noun, id));
            switch (choice) {
                case CANCEL -> {
                    try {
                        follower.cancel();
                    } catch (RuntimeException e) {
                        err.println("migrationctl: cancel failed: " + e.getMessage());
                        err.flush();
                    }
                }
                case DETACH -> {
                    err.println("migrationctl: detached; " + noun + " " + id + " goes on in the daemon" + follower.consequence()
                            + ". Follow it with 'migrationctl watch " + id + "', stop it with 'migrationctl cancel " + id + "'");
                    err.flush();
                    Runtime.getRuntime().halt(ExitCode.INTERRUPTED);
                }
                case WATCH -> {
                    // keep going
                }
            }
        });
    }
}
