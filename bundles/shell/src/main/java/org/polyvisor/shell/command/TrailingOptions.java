package org.polyvisor.shell.command;

import java.lang.reflect.Field;
import java.util.List;
import org.apache.karaf.shell.api.action.Option;

/**
 * Karaf reads options only before the arguments ({@code vm:swap --cpu x demo}); people write
 * them after the VM name too ({@code vm:swap demo --cpu x}, as virsh does). Commands collect what
 * follows their arguments and hand it here, which sets the matching {@code @Option} fields.
 */
final class TrailingOptions {

    private TrailingOptions() {
    }

    /**
     * Applies options given after the arguments.
     *
     * @param action the command whose {@code @Option} fields to set
     * @param rest   the words after the arguments, e.g. {@code [--cpu, interpreter]}
     * @throws CommandFailure for an unknown option, a missing or malformed value, or a word that
     *                        is not an option
     */
    static void apply(Object action, List<String> rest) {
        if (rest == null) {
            return;
        }
        for (int i = 0; i < rest.size(); i++) {
            String word = rest.get(i);
            String value = null;
            int eq = word.indexOf('=');
            if (word.startsWith("-") && eq > 0) {
                value = word.substring(eq + 1);
                word = word.substring(0, eq);
            }
            Field field = find(action.getClass(), word);
            if (field == null) {
                throw new CommandFailure(word.startsWith("-") ? "unknown option " + word
                        : "unexpected argument '" + word + "'");
            }
            Class<?> type = field.getType();
            try {
                field.setAccessible(true);
                if (type == boolean.class || type == Boolean.class) {
                    field.set(action, value == null || Boolean.parseBoolean(value));
                    continue;
                }
                if (value == null) {
                    if (i + 1 >= rest.size()) {
                        throw new CommandFailure("option " + word + " needs a value");
                    }
                    value = rest.get(++i);
                }
                if (type == int.class || type == Integer.class) {
                    try {
                        field.set(action, Integer.parseInt(value.trim()));
                    } catch (NumberFormatException e) {
                        throw new CommandFailure("option " + word + ": '" + value + "' is not a number");
                    }
                } else if (type == String.class) {
                    field.set(action, value);
                } else {
                    throw new CommandFailure("option " + word + " must come before the arguments");
                }
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static Field find(Class<?> type, String name) {
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                Option o = f.getAnnotation(Option.class);
                if (o == null) {
                    continue;
                }
                if (o.name().equals(name) || List.of(o.aliases()).contains(name)) {
                    return f;
                }
            }
        }
        return null;
    }
}
