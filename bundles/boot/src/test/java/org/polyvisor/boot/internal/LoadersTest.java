package org.polyvisor.boot.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.polyvisor.boot.BootException;
import org.polyvisor.boot.BootImage;
import org.polyvisor.boot.BootLoader;
import org.polyvisor.boot.BootPlan;
import org.polyvisor.boot.BootRequest;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.testing.FakeGuestMemory;

/** The loaders against a fake memory: what they write where, and the state they start in. */
class LoadersTest {

    private static final long MIB = 1L << 20;

    /** A minimal bzImage of protocol 2.15 with the given payload and init_size. */
    static byte[] bzImage(int payload, long initSize) {
        byte[] b = new byte[5 * 512 + payload];
        b[0x1F1] = 4;
        Le.put32(b, 0x1F4, (payload + 15) / 16);
        Le.put16(b, 0x1FE, 0xAA55);
        b[0x200] = (byte) 0xEB;
        b[0x201] = 0x66;
        Le.put32(b, 0x202, 0x5372_6448L);
        Le.put16(b, 0x206, 0x020F);
        b[0x211] = 0x01;
        Le.put32(b, 0x214, 0x10_0000);
        Le.put32(b, 0x22C, 0x37FF_FFFFL);
        Le.put32(b, 0x238, 2047);
        Le.put64(b, 0x258, 0x100_0000L);
        Le.put32(b, 0x260, initSize);
        for (int i = 0; i < payload; i++) {
            b[5 * 512 + i] = (byte) (i * 7);
        }
        return b;
    }

    /**
     * A PC's RAM as the core lays it out without firmware: below 640 KiB, at 0xC0000-0xFFFFF and
     * from 1 MiB.
     */
    static FakeGuestMemory memory(long ramBytes) {
        return FakeGuestMemory.builder().ram(0, 0xA_0000, "ram-low").ram(0xC_0000, 0x4_0000, "ram-upper")
                .ram(0x10_0000, ramBytes - 0x10_0000, "ram").ramSize(ramBytes).build();
    }

    private static BootRequest request(FakeGuestMemory m, byte[] kernel, List<BootImage> initrds, String cmdline) {
        return new BootRequest("t", new BootImage("k", kernel, ""), initrds, cmdline, m, CpuState.powerOn(0x600), 1);
    }

    @Test
    void probesTellTheFormatsApart() {
        BootImage bz = new BootImage("bz", bzImage(4096, MIB), "");
        BootImage junk = new BootImage("junk", new byte[100], "");
        assertEquals(100, new LinuxSetupLoader().probe(bz));
        assertEquals(50, new Linux32Loader().probe(bz));
        assertEquals(BootLoader.NOT_RECOGNISED, new MultibootLoader().probe(bz));
        assertEquals(BootLoader.NOT_RECOGNISED, new LinuxSetupLoader().probe(junk));
        assertEquals(BootLoader.NOT_RECOGNISED, new MultibootLoader().probe(junk));
    }

    @Test
    void linux32FillsBootParamsAndEntersFlatProtectedMode() {
        FakeGuestMemory m = memory(64 * MIB);
        byte[] k = bzImage(8192, 2 * MIB);
        byte[] initrd = new byte[10000];
        initrd[0] = 0x1F;
        BootPlan plan = new Linux32Loader().load(request(m, k, List.of(new BootImage("i", initrd, "")), "console=ttyS0"));
        CpuState s = plan.start();
        assertEquals(0x10_0000, s.rip());
        assertEquals(Linux32Loader.ZERO_PAGE, s.gpr(CpuState.RSI));
        assertEquals(0x10, s.segment(CpuState.CS).selector());
        assertEquals(0xFFFF_FFFF, s.segment(CpuState.DS).limit());
        assertTrue(s.protectedMode());
        assertEquals(0, s.rflags() & 0x200, "interrupts off");
        long zp = Linux32Loader.ZERO_PAGE;
        assertEquals(0x5372_6448, m.readDword(zp + 0x202), "setup header copied");
        assertEquals(0xFF, m.readByte(zp + 0x210), "type_of_loader");
        assertEquals("console=ttyS0", m.cString(m.readDword(zp + 0x228)));
        long initrdAddr = m.readDword(zp + 0x218) & 0xFFFF_FFFFL;
        assertEquals(10000, m.readDword(zp + 0x21C));
        assertEquals(0, initrdAddr & 0xFFF);
        assertEquals((64 * MIB - 10000) & ~0xFFFL, initrdAddr, "initrd as high as RAM allows");
        assertEquals(0x1F, m.readByte(initrdAddr));
        assertEquals(k[5 * 512 + 3], (byte) m.readByte(0x10_0003), "kernel at 1 MiB");
        int n = m.readByte(zp + 0x1E8);
        assertEquals(4, n, "e820: low RAM, EBDA, BIOS area, RAM from 1 MiB");
        assertEquals(0x10_0000L, m.readQword(zp + 0x2D0 + 3 * 20));
        assertEquals(63 * MIB, m.readQword(zp + 0x2D0 + 3 * 20 + 8));
        assertEquals(1, m.readDword(zp + 0x2D0 + 3 * 20 + 16));
        assertEquals(0x00CF_9B00_0000_FFFFL, m.readQword(ProtectedMode.GDT_BASE + 0x10), "__BOOT_CS descriptor");
    }

    @Test
    void linuxSetupPatchesTheHeaderAndInstallsTheBiosStub() {
        FakeGuestMemory m = memory(64 * MIB);
        BootPlan plan = new LinuxSetupLoader().load(request(m, bzImage(8192, 2 * MIB), List.of(), "quiet"));
        CpuState s = plan.start();
        assertEquals(0x1020, s.segment(CpuState.CS).selector());
        assertEquals(0x10200, s.segment(CpuState.CS).base());
        assertEquals(0x1000, s.segment(CpuState.DS).selector());
        assertEquals(0, s.rip());
        assertEquals(0xFFF0, s.gpr(CpuState.RSP));
        assertTrue(!s.protectedMode());
        long real = LinuxSetupLoader.REAL_ADDR;
        assertEquals(0x81, m.readByte(real + 0x211), "LOADED_HIGH | CAN_USE_HEAP");
        assertEquals(0xFE00, m.readWord(real + 0x224), "heap_end_ptr");
        assertEquals(0x2_0000, m.readDword(real + 0x228));
        assertEquals("quiet", m.cString(0x2_0000));
        assertEquals(BiosStub.INT15, m.readWord(0x15 * 4));
        assertEquals(BiosStub.SEGMENT, m.readWord(0x15 * 4 + 2));
        assertEquals(BiosStub.IRQ_MASTER, m.readWord(0x08 * 4));
        assertEquals(BiosStub.SEGMENT, m.readWord(0x40E), "EBDA segment in the BDA");
        assertEquals(4, m.readDword(BiosStub.BASE + BiosStub.E820_COUNT));
        assertEquals(0x9_F000L, m.readQword(BiosStub.BASE + BiosStub.E820_TABLE + 8), "low RAM ends at the stub");
    }

    @Test
    void linuxRefusesWhatDoesNotFit() {
        FakeGuestMemory small = memory(16 * MIB);
        BootException e = assertThrows(BootException.class,
                () -> new Linux32Loader().load(request(small, bzImage(4096, 4 * MIB), List.of(), "")));
        assertTrue(e.getMessage().contains("needs RAM up to 0x01400000"), e.getMessage());
        byte[] old = bzImage(4096, MIB);
        Le.put16(old, 0x206, 0x0201);
        e = assertThrows(BootException.class, () -> new Linux32Loader().load(request(small, old, List.of(), "")));
        assertTrue(e.getMessage().contains("2.01 is older than 2.02"), e.getMessage());
        byte[] future = bzImage(4096, MIB);
        Le.put16(future, 0x206, 0x0300);
        e = assertThrows(BootException.class, () -> new Linux32Loader().load(request(small, future, List.of(), "")));
        assertTrue(e.getMessage().contains("Linux boot protocol 3.00 is unknown"), e.getMessage());
        FakeGuestMemory m = memory(64 * MIB);
        e = assertThrows(BootException.class,
                () -> new Linux32Loader().load(request(m, bzImage(4096, MIB), List.of(), "x".repeat(3000))));
        assertTrue(e.getMessage().contains("the command line is 3000 bytes, the kernel takes at most 2047"), e.getMessage());
    }

    /** An a.out-kludge Multiboot image loaded at 2 MiB: header at 0, code "hlt". */
    static byte[] aoutKernel(long flags) {
        byte[] k = new byte[0x100];
        Le.put32(k, 0, MultibootLoader.HEADER_MAGIC);
        Le.put32(k, 4, flags);
        Le.put32(k, 8, -(MultibootLoader.HEADER_MAGIC + flags));
        Le.put32(k, 12, 0x20_0000);
        Le.put32(k, 16, 0x20_0000);
        Le.put32(k, 20, 0);
        Le.put32(k, 24, 0x20_2000);
        Le.put32(k, 28, 0x20_0040);
        k[0x40] = (byte) 0xF4;
        return k;
    }

    @Test
    void multibootBuildsTheInformationStructure() {
        FakeGuestMemory m = memory(32 * MIB);
        byte[] k = aoutKernel(0x1_0003);
        m.writeByte(0x20_1000, 0x55); // bss is zeroed, even on a reload
        BootPlan plan = new MultibootLoader().load(new BootRequest("t", new BootImage("kern", k, ""),
                List.of(new BootImage("m0", new byte[] {1, 2, 3}, "a=1")), "root=x", m, CpuState.powerOn(0), 1));
        CpuState s = plan.start();
        assertEquals(0x2BAD_B002L, s.gpr(CpuState.RAX));
        assertEquals(0x20_0040, s.rip());
        long info = s.gpr(CpuState.RBX);
        assertEquals(0, m.readByte(0x20_1000));
        assertEquals(0x24D, m.readDword(info) & 0x24D, "mem, cmdline, mods, mmap, loader name");
        assertEquals(639, m.readDword(info + 4));
        assertEquals(31 * 1024, m.readDword(info + 8));
        assertEquals("kern root=x", m.cString(m.readDword(info + 16)));
        assertEquals(1, m.readDword(info + 20));
        long mod = m.readDword(info + 24);
        assertEquals(0x20_2000, m.readDword(mod), "first module on the page after the bss");
        assertEquals(0x20_2003, m.readDword(mod + 4));
        assertEquals("m0 a=1", m.cString(m.readDword(mod + 8)));
        assertEquals(3, m.readByte(0x20_2002));
        assertEquals("polyvisor", m.cString(m.readDword(info + 64)));
        long mmap = m.readDword(info + 48);
        assertEquals(4 * 24, m.readDword(info + 44));
        assertEquals(20, m.readDword(mmap));
        assertEquals(0x9_FC00L, m.readQword(mmap + 12), "low RAM up to the EBDA");
    }

    @Test
    void multibootRefusesUnknownRequirementsAndNonElfWithoutKludge() {
        FakeGuestMemory m = memory(32 * MIB);
        BootException e = assertThrows(BootException.class, () -> new MultibootLoader().load(request(m,
                aoutKernel(0x1_0010), List.of(), "")));
        assertTrue(e.getMessage().contains("requires features 0x10"), e.getMessage());
        e = assertThrows(BootException.class, () -> new MultibootLoader().load(request(m, aoutKernel(0x3),
                List.of(), "")));
        assertTrue(e.getMessage().contains("not ELF"), e.getMessage());
    }

    @Test
    void initrdListParsesPathsAndArguments() {
        List<String[]> l = BootRequest.parseInitrdList(" a.bin x=1 y , b.bin,, ");
        assertEquals(2, l.size());
        assertEquals("a.bin", l.get(0)[0]);
        assertEquals("x=1 y", l.get(0)[1]);
        assertEquals("b.bin", l.get(1)[0]);
        assertEquals("", l.get(1)[1]);
    }

    @Test
    void biosStubMatchesItsSource(@TempDir Path out) throws Exception {
        Assumptions.assumeTrue(onPath("as") && onPath("ld"), "GNU as/ld not installed: cannot reassemble bios-stub.S");
        Path script = Path.of(System.getProperty("user.dir"), "src/main/asm/build-bios-stub.sh");
        Process p = new ProcessBuilder("sh", script.toString(), out.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        Assumptions.assumeTrue(p.exitValue() == 0, "cannot assemble 16-bit code here: " + log);
        assertEquals(BiosStub.CODE_HEX, log.trim(), "bios-stub.S changed: paste the new bytes into BiosStub.CODE_HEX");
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    @Test
    void damagedGzipInitrdIsRefusedAndAGoodOneLoads() throws Exception {
        java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(gz)) {
            byte[] cpio = new byte[200_000];
            for (int i = 0; i < cpio.length; i++) {
                cpio[i] = (byte) (i * 31 + (i >> 7));
            }
            out.write(cpio);
        }
        byte[] good = gz.toByteArray();
        FakeGuestMemory m = memory(64 * MIB);
        new Linux32Loader().load(request(m, bzImage(4096, MIB), List.of(new BootImage("initrd.gz", good, "")), ""));

        byte[] truncated = java.util.Arrays.copyOf(good, good.length * 2 / 3);
        BootException e = assertThrows(BootException.class, () -> new Linux32Loader().load(
                request(m, bzImage(4096, MIB), List.of(new BootImage("initrd.gz", truncated, "")), "")));
        assertTrue(e.getMessage().contains("initrd initrd.gz") && e.getMessage().contains("damaged gzip stream"), e.getMessage());

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x5A;
        e = assertThrows(BootException.class, () -> new Linux32Loader().load(
                request(m, bzImage(4096, MIB), List.of(new BootImage("initrd.gz", flipped, "")), "")));
        assertTrue(e.getMessage().contains("damaged gzip stream"), e.getMessage());

        // not gzip: left to the kernel
        new Linux32Loader().load(request(m, bzImage(4096, MIB), List.of(new BootImage("raw", new byte[512], "")), ""));
    }
}
