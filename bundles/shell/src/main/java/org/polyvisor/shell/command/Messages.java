package org.polyvisor.shell.command;

import java.util.List;
import org.polyvisor.vm.VmException;

/** Turns failures into the plain one-line messages the commands print. */
final class Messages {

    private Messages() {
    }

    /**
     * Describes a failure concerning one VM. {@link VmException} messages are made for users and
     * usually name the VM already; other exceptions get their type so that bugs stay visible.
     *
     * @param name the VM name
     * @param e    the failure
     * @return one line
     */
    static String describe(String name, Throwable e) {
        String msg = message(e);
        if (msg.contains("'" + name + "'")) {
            return msg;
        }
        return "vm '" + name + "': " + msg;
    }

    /**
     * Returns the message of a failure as users should see it.
     *
     * @param e the failure
     * @return its message; for unexpected exceptions, prefixed by the exception's simple name
     */
    static String message(Throwable e) {
        String msg = e.getMessage();
        if (e instanceof VmException || e instanceof IllegalArgumentException || e instanceof CommandFailure) {
            return msg == null ? e.getClass().getSimpleName() : msg;
        }
        return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
    }

    /**
     * Joins several failures into one message: a single failure stays one line.
     *
     * @param what     e.g. {@code cannot start}
     * @param failures one line each
     * @return the message
     */
    static String summary(String what, List<String> failures) {
        if (failures.size() == 1) {
            return failures.get(0);
        }
        StringBuilder sb = new StringBuilder(what).append(' ').append(failures.size()).append(" VMs:");
        for (String f : failures) {
            sb.append(System.lineSeparator()).append("  ").append(f);
        }
        return sb.toString();
    }
}
