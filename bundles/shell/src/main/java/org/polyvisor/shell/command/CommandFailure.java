package org.polyvisor.shell.command;

/**
 * A command failed for a reason the user can act on; Karaf shows only the message (no stack
 * trace) and the command's exit status is non-zero, also over SSH.
 */
public class CommandFailure extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the failure.
     *
     * @param message what went wrong, ready to show
     */
    public CommandFailure(String message) {
        super(message);
    }
}
