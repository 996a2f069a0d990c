package org.polyvisor.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The distribution as a user runs it: unpacked, started with bin/karaf as a process, reached
 * over SSH with a registered key (the way ./polyvisor cli works), restarted. A VM defined before
 * the restart is still defined after it. Whatever this test starts, it kills.
 */
public class RestartIT {

    private static Path home;
    private static Path key;
    private static Path knownHosts;
    private static int sshPort;
    private static Process karaf;
    private static Path log;

    @BeforeClass
    public static void install() throws Exception {
        assumeTrue("needs OpenSSH (apt-get install openssh-client)", onPath("ssh") && onPath("ssh-keygen"));
        Path work = Paths.get(System.getProperty("polyvisor.itests.work", "target"), "restart-it").toAbsolutePath();
        deleteTree(work);
        Files.createDirectories(work);
        run(work, "tar", "-xzf", new File(System.getProperty("polyvisor.distro")).getAbsolutePath(), "-C", work.toString());
        try (Stream<Path> s = Files.list(work)) {
            home = s.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        // no demo VM (keeps a core free), no console attach script (no local console anyway)
        Files.deleteIfExists(home.resolve("etc/org.polyvisor.vm-demo.cfg"));
        Files.deleteIfExists(home.resolve("etc/scripts/polyvisor-console.script"));
        // free ports, so a running ./polyvisor and other tests do not clash
        sshPort = freePort();
        setProperty(home.resolve("etc/org.apache.karaf.shell.cfg"), "sshPort", Integer.toString(sshPort));
        setProperty(home.resolve("etc/org.apache.karaf.management.cfg"), "rmiRegistryPort", Integer.toString(freePort()));
        setProperty(home.resolve("etc/org.apache.karaf.management.cfg"), "rmiServerPort", Integer.toString(freePort()));
        // key login, as ./polyvisor sets it up
        key = work.resolve("id_rsa");
        knownHosts = work.resolve("known_hosts");
        run(work, "ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key.toString());
        String pub = Files.readString(Paths.get(key + ".pub")).trim().split("\\s+")[1];
        Files.writeString(home.resolve("etc/keys.properties"), "\nkaraf=" + pub + ",_g_:admingroup\n",
                java.nio.file.StandardOpenOption.APPEND);
        log = work.resolve("karaf-console.log");
    }

    @AfterClass
    public static void killEverything() {
        kill();
    }

    @Test
    public void vmDefinedOverSshSurvivesARestart() throws Exception {
        start();
        String created = ssh("vm:create --irqchip pic --devices uart16550 --memory 16M --firmware guests/demo.rom keepme");
        assertTrue(created, created.contains("vm 'keepme': defined"));
        assertTrue(ssh("vm:list --no-format").contains("keepme"));
        assertOnlyLoopbackListeners();

        // a refused command fails with status 1 and a plain message
        SshResult bad = sshResult("vm:start nosuch");
        assertEquals(bad.output, 1, bad.status);
        assertTrue(bad.output, bad.output.contains("no VM named 'nosuch'"));

        stop();
        start();

        String list = ssh("vm:list --no-format");
        assertTrue("after the restart:\n" + list, list.lines().anyMatch(l -> l.startsWith("keepme") && l.contains("defined")));
        String info = ssh("vm:info --no-format keepme");
        assertTrue(info, info.contains("guests/demo.rom"));

        // and it runs: start it and read its console non-interactively, as a script would
        ssh("vm:start keepme");
        String console = ssh("vm:console --timeout 4 --no-input keepme");
        assertTrue(console, console.contains("Polyvisor demo guest"));
        ssh("vm:destroy keepme");
        assertTrue(!ssh("vm:list --no-format").contains("keepme"));
        stop();
    }

    private static void start() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/karaf").toString(), "server")
                .directory(home.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("KARAF_DEBUG");
        karaf = pb.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < until) {
            if (!karaf.isAlive()) {
                fail("bin/karaf ended with " + karaf.exitValue() + ": " + tail());
            }
            SshResult r = sshResult("vm:list --no-format");
            if (r.status == 0) {
                return;
            }
            Thread.sleep(500);
        }
        fail("the SSH console did not answer within 90 s: " + tail());
    }

    private static void stop() throws Exception {
        sshResult("system:shutdown -f");
        if (!karaf.waitFor(60, TimeUnit.SECONDS)) {
            kill();
            fail("Karaf did not stop within 60 s");
        }
        // the JVM may outlive the script for a moment
        for (int i = 0; i < 100 && karaf.descendants().anyMatch(ProcessHandle::isAlive); i++) {
            Thread.sleep(100);
        }
    }

    private static void kill() {
        if (karaf == null) {
            return;
        }
        List<ProcessHandle> all = new ArrayList<>();
        karaf.descendants().forEach(all::add);
        all.add(karaf.toHandle());
        all.forEach(ProcessHandle::destroy);
        for (ProcessHandle p : all) {
            try {
                p.onExit().get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
            }
        }
    }

    /** Every socket the Karaf JVM listens on is bound to the loopback interface. */
    private static void assertOnlyLoopbackListeners() throws Exception {
        if (!onPath("ss")) {
            System.out.println("ss not found: listener check skipped");
            return;
        }
        List<Long> pids = new ArrayList<>();
        pids.add(karaf.pid());
        karaf.descendants().forEach(p -> pids.add(p.pid()));
        String out = run(home, "ss", "-ltnpH");
        int seen = 0;
        for (String line : out.split("\n")) {
            boolean ours = pids.stream().anyMatch(pid -> line.contains("pid=" + pid + ","));
            if (!ours) {
                continue;
            }
            seen++;
            String local = line.trim().split("\\s+")[3];
            assertTrue("listens beyond loopback: " + line,
                    local.startsWith("127.") || local.startsWith("[::ffff:127.") || local.startsWith("[::1]"));
        }
        assertTrue("no listener of the Karaf process found in:\n" + out, seen > 0);
    }

    private record SshResult(int status, String output) {
    }

    private static String ssh(String command) throws Exception {
        SshResult r = sshResult(command);
        assertEquals("'" + command + "' failed: " + r.output, 0, r.status);
        return r.output;
    }

    private static SshResult sshResult(String command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("ssh", "-p", Integer.toString(sshPort), "-i", key.toString(),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + knownHosts, "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=5", "karaf@127.0.0.1", command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        String out;
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new SshResult(-1, "ssh timed out");
            }
        } finally {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        System.out.println("ssh> " + command + " [" + p.exitValue() + "]\n" + out);
        return new SshResult(p.exitValue(), out);
    }

    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (Files.isExecutable(Paths.get(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void setProperty(Path file, String key, String value) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(file));
        boolean done = false;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).matches("\\s*" + key + "\\s*=.*")) {
                lines.set(i, key + " = " + value);
                done = true;
            }
        }
        if (!done) {
            lines.add(key + " = " + value);
        }
        Files.write(file, lines);
    }

    private static String tail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no console log: " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
