package org.polyvisor.itests;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.configureConsole;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.editConfigurationFilePut;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.karafDistributionConfiguration;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.logLevel;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.inject.Inject;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.api.console.SessionFactory;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.karaf.options.LogLevelOption;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.polyvisor.vm.Vm;
import org.polyvisor.vm.VmManager;

/**
 * Runs the assembled distribution (karaf-distro's tar.gz) under Pax Exam and gives the tests its
 * services and a way to run shell commands as a user would.
 */
public abstract class PolyvisorTestSupport {

    /** Factory PID of VM configurations. */
    static final String VM_FACTORY_PID = "org.polyvisor.vm";

    private static final Pattern COUNT = Pattern.compile("count: (\\d+)");

    @Inject
    protected BundleContext bundleContext;

    @Inject
    protected VmManager vmManager;

    @Inject
    protected SessionFactory sessionFactory;

    @Inject
    protected ConfigurationAdmin configAdmin;

    /**
     * The container: our distribution, unpacked under target/exam, without local console or SSH
     * (no port clashes with a running ./polyvisor), resolving Maven URLs from this build's
     * local repository first.
     *
     * @return the options
     */
    @org.ops4j.pax.exam.Configuration
    public Option[] config() {
        String distro = System.getProperty("polyvisor.distro");
        String localRepo = System.getProperty("org.ops4j.pax.url.mvn.localRepository",
                System.getProperty("user.home") + "/.m2/repository");
        String work = System.getProperty("polyvisor.itests.work", "target");
        return options(
                karafDistributionConfiguration()
                        .frameworkUrl(new File(distro).toURI().toString())
                        .karafVersion("4.4.10")
                        .name("Polyvisor")
                        .unpackDirectory(new File(work, "exam"))
                        .useDeployFolder(false),
                configureConsole().ignoreLocalConsole().ignoreRemoteShell(),
                logLevel(LogLevelOption.LogLevel.INFO),
                editConfigurationFilePut("etc/org.ops4j.pax.url.mvn.cfg",
                        "org.ops4j.pax.url.mvn.localRepository", localRepo),
                editConfigurationFilePut("etc/org.ops4j.pax.url.mvn.cfg",
                        "org.ops4j.pax.url.mvn.repositories", "https://repo.maven.apache.org/maven2@id=central"),
                systemProperty("pax.exam.service.timeout").value("60000"));
    }

    /**
     * The subject of a logged-in administrator: user karaf with the roles of Karaf's admingroup
     * (the key the launcher registers logs in with that group).
     */
    private static final javax.security.auth.Subject ADMIN = new javax.security.auth.Subject(true,
            java.util.Set.of(new org.apache.karaf.jaas.boot.principal.UserPrincipal("karaf"),
                    new org.apache.karaf.jaas.boot.principal.RolePrincipal("admin"),
                    new org.apache.karaf.jaas.boot.principal.RolePrincipal("manager"),
                    new org.apache.karaf.jaas.boot.principal.RolePrincipal("viewer"),
                    new org.apache.karaf.jaas.boot.principal.RolePrincipal("systembundles"),
                    new org.apache.karaf.jaas.boot.principal.RolePrincipal("ssh")),
            java.util.Set.of(), java.util.Set.of());

    /**
     * Runs a shell command in a new session, as the SSH console or the local console would.
     *
     * @param command the command line
     * @return what it printed; for a failure, what it printed followed by
     *         {@code ERROR: message} (the message Karaf shows the user)
     */
    protected String execute(String command) {
        return executeWithInput(command, "");
    }

    /**
     * Runs a shell command in a new session whose keyboard has some text typed in advance (what
     * {@code vm:console} passes to the guest).
     *
     * @param command the command line
     * @param typed   the keys, as text
     * @return what it printed, as {@link #execute}
     */
    protected String executeWithInput(String command, String typed) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        // As a person at a terminal: the keys, then no end of input until the command is done. A
        // stream at its end at once lets the session's terminal close its input before the command
        // has read the keys, and they are lost.
        TypedKeys keys = new TypedKeys(typed.getBytes(StandardCharsets.UTF_8));
        Session session = sessionFactory.create(keys, out, out);
        try {
            // as the admin user an SSH login has: Karaf's command ACLs hide bundle:install and
            // the like from sessions without that role
            Object result = javax.security.auth.Subject.doAs(ADMIN,
                    (java.security.PrivilegedExceptionAction<Object>) () -> session.execute(command));
            if (result != null) {
                out.println(result);
            }
        } catch (java.security.PrivilegedActionException e) {
            out.println("ERROR: " + e.getException().getMessage());
        } catch (Exception e) {
            out.println("ERROR: " + e.getMessage());
        } finally {
            keys.end();
            session.close();
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println("karaf> " + command + "\n" + text);
        return text;
    }

    /**
     * Runs a command that must succeed.
     *
     * @param command the command line
     * @return its output
     */
    protected String executeOk(String command) {
        String out = execute(command);
        if (out.contains("ERROR: ")) {
            fail("'" + command + "' failed:\n" + out);
        }
        return out;
    }

    /**
     * Waits for a condition.
     *
     * @param what    what is awaited, for the failure message
     * @param timeout how long at most
     * @param check   the condition
     */
    protected static void await(String what, Duration timeout, BooleanSupplier check) throws InterruptedException {
        long until = System.nanoTime() + timeout.toNanos();
        while (!check.getAsBoolean()) {
            if (System.nanoTime() > until) {
                fail("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    /** @return the console output the VM keeps, as text */
    protected static String output(Vm vm) {
        return new String(vm.console().recentOutput(), StandardCharsets.ISO_8859_1);
    }

    /**
     * Returns the numbers of the {@code count: N} lines in some output, in order.
     *
     * @param text console output
     * @return the counts
     */
    protected static List<Integer> counts(String text) {
        List<Integer> counts = new ArrayList<>();
        Matcher m = COUNT.matcher(text);
        while (m.find()) {
            counts.add(Integer.parseInt(m.group(1)));
        }
        return counts;
    }

    /** @return the highest count the VM printed so far, 0 if none */
    protected static int lastCount(Vm vm) {
        List<Integer> c = counts(output(vm));
        return c.isEmpty() ? 0 : c.get(c.size() - 1);
    }

    /**
     * Checks that every count line follows the one before it: no gap, no repeat.
     *
     * @param text console output
     */
    protected static void assertConsecutive(String text) {
        List<Integer> c = counts(text);
        assertTrue("no count lines in:\n" + text, !c.isEmpty());
        for (int i = 1; i < c.size(); i++) {
            if (c.get(i) != c.get(i - 1) + 1) {
                fail("count " + c.get(i - 1) + " is followed by " + c.get(i) + " (all: " + c + ")");
            }
        }
    }

    /**
     * Waits until the VM has printed count lines beyond a value.
     *
     * @param vm    the VM
     * @param above the count to pass
     */
    protected static void awaitCountAbove(Vm vm, int above, Duration timeout) throws InterruptedException {
        await("vm '" + vm.name() + "' to count past " + above + " (state " + vm.status().describe() + ")", timeout,
                () -> lastCount(vm) > above);
    }

    /** @return the bundle with that symbolic name */
    protected Bundle bundle(String symbolicName) {
        for (Bundle b : bundleContext.getBundles()) {
            if (b.getSymbolicName().equals(symbolicName)) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + symbolicName);
    }

    /**
     * Finds the VM configurations (factory configurations of org.polyvisor.vm) with a name.
     *
     * @param name the VM name
     * @return the configurations, none when there is no such VM
     */
    protected Configuration[] vmConfigurations(String name) throws IOException, InvalidSyntaxException {
        Configuration[] configs = configAdmin.listConfigurations(
                "(&(service.factoryPid=" + VM_FACTORY_PID + ")(name=" + name + "))");
        return configs == null ? new Configuration[0] : configs;
    }

    /**
     * Path of a guest ROM shipped with the distribution.
     *
     * @param rom e.g. demo.rom
     * @return the absolute path
     */
    protected static String guest(String rom) {
        return new File(System.getProperty("karaf.home"), "guests/" + rom).getAbsolutePath();
    }

    /** Typed keys, then a keyboard that stays open (reads wait) until {@link #end()}. */
    static final class TypedKeys extends java.io.InputStream {
        private final ByteArrayInputStream keys;
        private final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);

        TypedKeys(byte[] typed) {
            keys = new ByteArrayInputStream(typed);
        }

        void end() {
            ended.countDown();
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            int n = keys.read(b, off, len);
            if (n > 0) {
                return n;
            }
            try {
                ended.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return -1;
        }

        @Override
        public int available() {
            return keys.available();
        }

        @Override
        public void close() {
            end();
        }
    }
}
