package org.polyvisor.shell.command;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.Session;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmConsole;
import org.polyvisor.vm.VmState;

/**
 * {@code vm:console}: attaches the shell to a VM's console (COM1). Prints the recent output,
 * then follows the output and types the keys pressed into the guest, until the detach key
 * (Ctrl-], as in telnet and virsh) is pressed. With {@code --timeout} or {@code --no-input} it
 * also works without a terminal, for scripts and tests.
 */
@Command(scope = "vm", name = "console", description = "Attaches to a VM's console (COM1): shows its output and types into it. Ctrl-] detaches.",
        detailedDescription = "Interactive: prints the recent output, then follows it; every key goes to the guest "
                + "(Ctrl-C too) except Ctrl-], which detaches and returns to the shell.\n"
                + "Scripts: 'vm:console --timeout 5 demo' prints the output so far, follows it for 5 seconds and returns; "
                + "'--timeout 0' only prints the output so far. It returns early when the VM stops or crashes.")
@Service
public class ConsoleCommand extends VmCommandSupport {

    /** The detach key: Ctrl-] (GS, 0x1d), as telnet and virsh use. */
    static final int DETACH_KEY = 0x1d;

    private static final long POLL_MILLIS = 50;

    @Argument(index = 0, name = "name", description = "The VM", required = true)
    @Completion(VmNameCompleter.class)
    String name;


    @Argument(index = 1, name = "options", description = "Options may also follow the VM name", multiValued = true)
    List<String> trailing;

    @Option(name = "--timeout", aliases = "-t", description = "Follow the output for this many seconds, then return "
            + "(0: print the output so far and return). Default: until detached with Ctrl-]")
    int timeoutSeconds = -1;

    @Option(name = "--until", aliases = "-u", description = "Return as soon as the guest writes this text (after "
            + "attaching; typed input is sent first), e.g. a shell prompt; --timeout still limits the wait")
    String until;

    @Option(name = "--no-input", aliases = "-n", description = "Do not read the keyboard; only show output")
    boolean noInput;

    @Option(name = "--log", aliases = "-l", description = "Show the VM log instead of COM1: the guest's diagnostic "
            + "output from devices such as debugcon (SeaBIOS writes its POST messages there); implies --no-input")
    boolean log;

    @Option(name = "--tail", description = "Show at most this many lines of the earlier output first "
            + "(default: all the VM keeps, at least 64 KiB; 0: none)")
    int tailLines = -1;

    @Option(name = "--wait", aliases = "-w", description = "Wait up to this many seconds for the VM to be defined "
            + "(for start-up scripts)")
    int waitSeconds;

    @Option(name = "--local-only", description = "Attach only on the local console (bin/karaf), do nothing in "
            + "SSH sessions; used by the start-up script etc/scripts/polyvisor-console.script")
    boolean localOnly;

    @Reference
    Session session;

    @Override
    public Object execute() throws Exception {
        TrailingOptions.apply(this, trailing);
        if (localOnly && !Boolean.TRUE.equals(session.get(Session.IS_LOCAL))) {
            return null;
        }
        Vm vm = awaitVm();
        VmConsole console = log ? vm.log() : vm.console();
        noInput |= log;
        PrintStream out = session.getConsole();
        boolean interactive = !noInput && timeoutSeconds < 0;
        long deadline = timeoutSeconds < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);

        if (interactive) {
            out.print("Connected to VM '" + name + "' (" + vm.status().describe() + "). Escape character is ^] (Ctrl-]).\r\n");
        }
        OutputFollower follower = new OutputFollower(console, out);
        follower.printTail(tailLines);
        out.flush();
        if (timeoutSeconds == 0) {
            return null;
        }

        // the listener only wakes this thread: output is copied by position (OutputFollower)
        Semaphore wake = new Semaphore(0);
        AutoCloseable attached = console.attach(bytes -> wake.release());
        try (Keyboard keyboard = noInput ? Keyboard.NONE : Keyboard.open(session, interactive)) {
            VmState seen = vm.status().state();
            long nextStateCheck = 0;
            while (System.nanoTime() < deadline) {
                int key = keyboard.read(POLL_MILLIS, wake);
                if (key == DETACH_KEY) {
                    break;
                } else if (key == Keyboard.EOF && timeoutSeconds < 0) {
                    break; // no more input and nothing else to wait for
                } else if (key >= 0) {
                    console.send(keyboard.drainAsBytes(key));
                }
                follower.drain();
                if (Thread.currentThread().isInterrupted() || follower.hasShown(until)) {
                    break;
                }
                if (System.nanoTime() >= nextStateCheck) {
                    nextStateCheck = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(250);
                    Optional<Vm> now = vmManager.get(name);
                    if (now.isEmpty() || now.get() != vm) {
                        out.print("\r\n[vm '" + name + "' was destroyed]\r\n");
                        break;
                    }
                    VmState state = vm.status().state();
                    if ((state == VmState.STOPPED || state == VmState.CRASHED) && state != seen) {
                        follower.drain();
                        out.print("\r\n[vm '" + name + "' " + vm.status().describe() + "]\r\n");
                        break;
                    }
                    seen = state;
                }
            }
            follower.drain();
        } finally {
            attached.close();
            if (interactive) {
                out.print("\r\n[detached from VM '" + name + "']\r\n");
            }
            out.flush();
        }
        return null;
    }

    private Vm awaitVm() throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.max(0, waitSeconds));
        while (true) {
            Optional<Vm> vm = vmManager.get(name);
            if (vm.isPresent()) {
                return vm.get();
            }
            if (System.nanoTime() >= until) {
                return getExisting(name); // fails with the list of VMs there are
            }
            Thread.sleep(100);
        }
    }

    /**
     * Copies a console's output to the terminal by position, so that nothing is shown twice or
     * skipped silently: it remembers how many bytes it has shown and, on each drain, shows the
     * bytes the VM wrote since, taken from the tail the VM keeps.
     */
    static final class OutputFollower {
        private final VmConsole console;
        private final PrintStream out;
        private long shown;
        /** The end of what drain() printed, for {@link #hasShown}. */
        private final StringBuilder recent = new StringBuilder();
        private static final int RECENT_LIMIT = 64 * 1024;

        OutputFollower(VmConsole console, PrintStream out) {
            this.console = console;
            this.out = out;
        }

        /** Prints (at most {@code lines} lines of) the output so far and starts following from its end. */
        void printTail(int lines) {
            Snapshot s = Snapshot.of(console);
            byte[] tail = s.tail();
            int from = lines < 0 ? 0 : ConsoleText.startOfLastLines(tail, lines);
            if (from == 0 && s.total() > tail.length && lines != 0) {
                out.print("[" + (s.total() - tail.length) + " earlier bytes of output are no longer kept]\r\n");
            }
            out.write(tail, from, tail.length - from);
            shown = s.total();
        }

        /** Prints what the guest wrote since the last call. */
        void drain() {
            Snapshot s = Snapshot.of(console);
            long fresh = s.total() - shown;
            if (fresh <= 0) {
                return;
            }
            byte[] tail = s.tail();
            if (fresh > tail.length) {
                out.print("\r\n[" + (fresh - tail.length) + " bytes of output were not kept]\r\n");
                fresh = tail.length;
            }
            out.write(tail, tail.length - (int) fresh, (int) fresh);
            out.flush();
            shown = s.total();
            recent.append(new String(tail, tail.length - (int) fresh, (int) fresh, StandardCharsets.ISO_8859_1));
            if (recent.length() > RECENT_LIMIT) {
                recent.delete(0, recent.length() - RECENT_LIMIT / 2);
            }
        }

        /**
         * Whether the output followed since attaching (not the earlier tail) contains a text.
         *
         * @param text the text, or null or empty for never
         * @return true once it was shown
         */
        boolean hasShown(String text) {
            return text != null && !text.isEmpty() && recent.indexOf(text) >= 0;
        }
    }

    /** The output tail and the total count it ends at, read consistently. */
    record Snapshot(byte[] tail, long total) {
        static Snapshot of(VmConsole console) {
            for (int i = 0; ; i++) {
                long before = console.totalOutput();
                byte[] tail = console.recentOutput();
                long after = console.totalOutput();
                if (before == after) {
                    // the tail was taken between two equal counts, so it ends at that count
                    return new Snapshot(tail, after);
                }
                if (i >= 100) {
                    // the guest writes without pause: may show a few bytes twice, never skip any
                    return new Snapshot(tail, before);
                }
                Thread.onSpinWait();
            }
        }
    }

    /** Where keys come from: the JLine terminal in raw mode, a plain input stream, or nothing. */
    abstract static class Keyboard implements AutoCloseable {
        static final int EOF = -1;
        static final int NONE_YET = -2;

        static final Keyboard NONE = new Keyboard() {
            @Override
            int read(long millis, Semaphore wake) throws InterruptedException {
                wake.tryAcquire(millis, TimeUnit.MILLISECONDS);
                wake.drainPermits();
                return NONE_YET;
            }

            @Override
            byte[] drainAsBytes(int first) {
                return new byte[0];
            }

            @Override
            public void close() {
            }
        };

        /**
         * Waits up to {@code millis} for a key, returning early when the guest wrote something.
         *
         * @return a character, {@link #EOF} or {@link #NONE_YET}
         */
        abstract int read(long millis, Semaphore wake) throws InterruptedException, IOException;

        /** Returns the given character and any others already typed, encoded for the guest. */
        abstract byte[] drainAsBytes(int first) throws IOException;

        @Override
        public abstract void close();

        static Keyboard open(Session session, boolean raw) {
            Object terminal = session.get(".jline.terminal");
            try {
                if (JLineKeyboard.supports(terminal)) {
                    return new JLineKeyboard(terminal, raw);
                }
            } catch (LinkageError e) {
                // JLine not wired to this bundle: fall back to the session's keyboard stream
            }
            return new StreamKeyboard(session.getKeyboard());
        }
    }

    /** Keys from a plain stream, polled with {@code available()} so that the loop never blocks. */
    static final class StreamKeyboard extends Keyboard {
        private final InputStream in;

        StreamKeyboard(InputStream in) {
            this.in = in;
        }

        @Override
        int read(long millis, Semaphore wake) throws InterruptedException, IOException {
            if (in.available() > 0) {
                return in.read();
            }
            wake.tryAcquire(millis, TimeUnit.MILLISECONDS);
            wake.drainPermits();
            return in.available() > 0 ? in.read() : NONE_YET;
        }

        @Override
        byte[] drainAsBytes(int first) throws IOException {
            java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
            buf.write(first);
            while (in.available() > 0) {
                int c = in.read();
                if (c < 0 || c == DETACH_KEY) {
                    break;
                }
                buf.write(c);
            }
            return buf.toByteArray();
        }

        @Override
        public void close() {
        }
    }

    /**
     * Keys from the session's JLine terminal, which is put into raw mode (no echo, no line
     * editing, no signals, so Ctrl-C reaches the guest) while attached.
     */
    static final class JLineKeyboard extends Keyboard {
        private final org.jline.terminal.Terminal terminal;
        private final org.jline.terminal.Attributes saved;
        private final org.jline.utils.NonBlockingReader reader;

        static boolean supports(Object terminal) {
            return terminal instanceof org.jline.terminal.Terminal;
        }

        JLineKeyboard(Object terminal, boolean raw) {
            this.terminal = (org.jline.terminal.Terminal) terminal;
            if (raw) {
                saved = this.terminal.enterRawMode();
                org.jline.terminal.Attributes attrs = this.terminal.getAttributes();
                attrs.setLocalFlag(org.jline.terminal.Attributes.LocalFlag.ISIG, false);
                this.terminal.setAttributes(attrs);
            } else {
                saved = null;
            }
            this.reader = this.terminal.reader();
        }

        @Override
        int read(long millis, Semaphore wake) throws IOException {
            int c = reader.read(millis);
            return c == org.jline.utils.NonBlockingReader.READ_EXPIRED ? NONE_YET : c;
        }

        @Override
        byte[] drainAsBytes(int first) throws IOException {
            StringBuilder sb = new StringBuilder().appendCodePoint(first);
            while (reader.available() > 0) {
                int c = reader.peek(1);
                if (c < 0 || c == DETACH_KEY) {
                    break;
                }
                sb.appendCodePoint(reader.read(1));
            }
            return sb.toString().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public void close() {
            if (saved != null) {
                terminal.setAttributes(saved);
            }
        }
    }
}
