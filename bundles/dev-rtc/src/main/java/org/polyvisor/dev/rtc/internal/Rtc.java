package org.polyvisor.dev.rtc.internal;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.memory.GuestMemory;
import org.polyvisor.memory.MemoryRegion;
import org.polyvisor.part.SavedState;
import org.polyvisor.time.VmClock;

/**
 * The Motorola MC146818 real-time clock and its 114 bytes of CMOS RAM (datasheet MC146818/D),
 * at index port 0x70 (bit 7: the PC's NMI mask) and data port 0x71, interrupting on IRQ 8.
 *
 * <p>The clock is the VM clock plus an offset: guest time = offset + VM nanoseconds, where the
 * offset starts at the configured base (host wall time at VM start by default) and moves when the
 * guest sets the time. Time registers are computed on read, never counted: a paused VM's RTC stands
 * still, a deterministic VM's RTC reads the same every run. Time is kept in UTC, as QEMU's default
 * {@code -rtc base=utc}.
 *
 * <p>Interrupt flags (register C) are derived from the guest time crossing second and periodic
 * boundaries since they were last looked at; VM-clock timers run only while an interrupt is
 * enabled (PIE, AIE or UIE). The alarm flag is exact with AIE set; without it, only the current
 * second is compared when register C is read.
 *
 * <p>Threat model: the guest controls the index and every data byte; indexes are 7 bits (0x00-0x7f),
 * invalid dates and times written to the clock are normalised (never an exception), and the
 * periodic rate is bounded by the chip's fastest (8192 Hz), so timers cannot fire more often.
 */
final class Rtc implements Device {

    /** Saved-state type and version. */
    static final String STATE_TYPE = "mc146818";
    static final int STATE_VERSION = 1;

    static final int SECONDS = 0x00;
    static final int SECONDS_ALARM = 0x01;
    static final int MINUTES = 0x02;
    static final int MINUTES_ALARM = 0x03;
    static final int HOURS = 0x04;
    static final int HOURS_ALARM = 0x05;
    static final int DAY_OF_WEEK = 0x06;
    static final int DAY_OF_MONTH = 0x07;
    static final int MONTH = 0x08;
    static final int YEAR = 0x09;
    static final int REG_A = 0x0A;
    static final int REG_B = 0x0B;
    static final int REG_C = 0x0C;
    static final int REG_D = 0x0D;
    /** Century, where ACPI's FADT and QEMU put it. */
    static final int CENTURY = 0x32;

    /** Register A: update in progress. */
    static final int A_UIP = 0x80;
    /** Register B bits. */
    static final int B_SET = 0x80;
    static final int B_PIE = 0x40;
    static final int B_AIE = 0x20;
    static final int B_UIE = 0x10;
    static final int B_BINARY = 0x04;
    static final int B_24H = 0x02;
    /** Register C bits. */
    static final int C_IRQF = 0x80;
    static final int C_PF = 0x40;
    static final int C_AF = 0x20;
    static final int C_UF = 0x10;
    /** Register D: valid RAM and time (battery good). */
    static final int D_VRT = 0x80;
    /** Alarm "don't care" codes are 0xc0-0xff. */
    static final int ALARM_DONT_CARE = 0xC0;

    static final long NANOS = 1_000_000_000L;
    /** The update cycle: UIP is set during the 244 us before each update (datasheet, figure 13). */
    static final long UIP_NANOS = 244_000;
    /** The time base: 32.768 kHz. */
    static final long CRYSTAL = 32_768;

    private final String name;
    private final VmClock clock;
    private final IrqLine irq;
    private final Registration registration;
    private final byte[] cmos = new byte[128];
    /** Guest time minus VM time, in nanoseconds since the epoch. */
    private long offset;
    /** The guest time up to which register C flags have been derived. */
    private long flagsCheckedAt;
    /** Time registers as written while SET is on (0x00-0x09 and the century), applied when SET clears. */
    private final int[] setRegisters = new int[11];
    private int index;
    private boolean nmiDisabled;
    private boolean irqLevel;
    private VmClock.Timer timer;
    private long timerGeneration;
    private boolean closed;
    private long interrupts;
    private long timeSets;
    private final long baseSeconds;

    Rtc(DeviceContext context, long baseSeconds, int cpus) {
        this.name = context.instanceName();
        this.clock = context.clock();
        this.irq = context.irq(8);
        this.baseSeconds = baseSeconds;
        powerOn(context.memory(), cpus);
        this.registration = context.ports().map(0x70, 2, name, new Ports());
    }

    // ---- power-on and NVRAM -------------------------------------------------------------------

    private void powerOn(GuestMemory memory, int cpus) {
        java.util.Arrays.fill(cmos, (byte) 0);
        offset = baseSeconds * NANOS - clock.nanos();
        flagsCheckedAt = guestNanos();
        cmos[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz rate (what a BIOS programs)
        cmos[REG_B] = B_24H;
        cmos[REG_D] = (byte) D_VRT;
        writeMemorySizes(memory);
        cmos[0x14] = 0x06;  // equipment: coprocessor, PS/2 mouse, EGA/VGA (QEMU's pc_cmos_init)
        cmos[0x5F] = (byte) (cpus - 1);
        checksum();
    }

    /**
     * The memory-size bytes a BIOS reads (the AT layout and its extensions, as QEMU's
     * pc_cmos_init fills them and SeaBIOS reads them): 0x15/0x16 base memory in KiB (640);
     * 0x17/0x18 and 0x30/0x31 KiB above 1 MiB (at most 65535); 0x34/0x35 64 KiB blocks above 16 MiB
     * below 4 GiB; 0x5b-0x5d 64 KiB blocks above 4 GiB.
     */
    private void writeMemorySizes(GuestMemory memory) {
        long below4g = 0;
        long above4g = 0;
        for (MemoryRegion r : memory.regions()) {
            if (r.kind() != MemoryRegion.Kind.RAM) {
                continue;
            }
            if (r.guestBase() >= 0x1_0000_0000L) {
                above4g += r.size();
            } else {
                below4g = Math.max(below4g, Math.min(r.end(), 0x1_0000_0000L));
            }
        }
        int baseKb = (int) Math.min(640, below4g / 1024);
        put16(0x15, baseKb);
        long ext = Math.max(0, below4g / 1024 - 1024);
        put16(0x17, (int) Math.min(ext, 0xFFFF));
        put16(0x30, (int) Math.min(ext, 0xFFFF));
        long above16 = Math.max(0, below4g - (16L << 20)) / 0x1_0000;
        put16(0x34, (int) Math.min(above16, 0xFFFF));
        long high = above4g / 0x1_0000;
        cmos[0x5B] = (byte) high;
        cmos[0x5C] = (byte) (high >>> 8);
        cmos[0x5D] = (byte) (high >>> 16);
    }

    private void put16(int at, int v) {
        cmos[at] = (byte) v;
        cmos[at + 1] = (byte) (v >>> 8);
    }

    /** The AT checksum of bytes 0x10-0x2d, big-endian at 0x2e/0x2f. */
    private void checksum() {
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++) {
            sum += cmos[i] & 0xFF;
        }
        cmos[0x2E] = (byte) (sum >>> 8);
        cmos[0x2F] = (byte) sum;
    }

    // ---- time -----------------------------------------------------------------------------------

    private long guestNanos() {
        return offset + clock.nanos();
    }

    private boolean binary() {
        return (cmos[REG_B] & B_BINARY) != 0;
    }

    private int encode(int v) {
        return binary() ? v : (v / 10) << 4 | v % 10;
    }

    private int decode(int b) {
        return binary() ? b & 0xFF : ((b >>> 4) & 0xF) * 10 + (b & 0xF);
    }

    private int encodeHour(int h) {
        if ((cmos[REG_B] & B_24H) != 0) {
            return encode(h);
        }
        int h12 = h % 12 == 0 ? 12 : h % 12;
        return encode(h12) | (h >= 12 ? 0x80 : 0);
    }

    private int decodeHour(int b) {
        if ((cmos[REG_B] & B_24H) != 0) {
            return decode(b);
        }
        return decode(b & 0x7F) % 12 + ((b & 0x80) != 0 ? 12 : 0);
    }

    private static LocalDateTime dateTime(long guestNanos) {
        return LocalDateTime.ofEpochSecond(Math.floorDiv(guestNanos, NANOS), 0, ZoneOffset.UTC);
    }

    /** Reads a clock register (0x00-0x09, century) as the chip shows it now. */
    private int readTime(int reg) {
        if ((cmos[REG_B] & B_SET) != 0) {
            return setRegisters[slot(reg)];
        }
        LocalDateTime t = dateTime(guestNanos());
        return switch (reg) {
            case SECONDS -> encode(t.getSecond());
            case MINUTES -> encode(t.getMinute());
            case HOURS -> encodeHour(t.getHour());
            case DAY_OF_WEEK -> encode(t.getDayOfWeek().getValue() % 7 + 1); // Sunday = 1
            case DAY_OF_MONTH -> encode(t.getDayOfMonth());
            case MONTH -> encode(t.getMonthValue());
            case YEAR -> encode(t.getYear() % 100);
            default -> encode(t.getYear() / 100 % 100); // century
        };
    }

    private static int slot(int reg) {
        return reg == CENTURY ? 10 : reg;
    }

    private static boolean isTime(int reg) {
        return reg == SECONDS || reg == MINUTES || reg == HOURS || reg >= DAY_OF_WEEK && reg <= YEAR
                || reg == CENTURY;
    }

    /** Snapshots the running time into the SET buffer (when SET turns on or a field is written). */
    private void captureTime() {
        for (int reg : new int[] {SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY}) {
            setRegisters[slot(reg)] = readTime(reg);
        }
    }

    /**
     * Makes the time in the SET buffer the clock's (sub-second phase restarts at 0, as the
     * divider chain does when the time is set). Out-of-range fields are normalised leniently.
     */
    private void applyTime() {
        int year = decode(setRegisters[slot(CENTURY)]) * 100 + decode(setRegisters[YEAR]);
        int month = Math.max(1, Math.min(12, decode(setRegisters[MONTH])));
        int day = Math.max(1, Math.min(31, decode(setRegisters[DAY_OF_MONTH])));
        int hour = Math.max(0, Math.min(23, decodeHour(setRegisters[HOURS])));
        int minute = Math.max(0, Math.min(59, decode(setRegisters[MINUTES])));
        int second = Math.max(0, Math.min(59, decode(setRegisters[SECONDS])));
        // Guest time is kept in 64-bit nanoseconds since 1970, which ends in 2262: years are
        // clamped to 1900-2199 (the two-digit year plus century the chip can hold is wider).
        LocalDateTime t = LocalDate.of(Math.max(1900, Math.min(2199, year)), month, 1).plusDays(day - 1L)
                .atTime(hour, minute, second);
        offset = t.toEpochSecond(ZoneOffset.UTC) * NANOS - clock.nanos();
        flagsCheckedAt = guestNanos();
        timeSets++;
    }

    // ---- flags and IRQ 8 -------------------------------------------------------------------------

    /** Periodic interrupt period in 32.768 kHz ticks (datasheet table 5), or 0 when off. */
    private int periodTicks() {
        int rs = cmos[REG_A] & 0xF;
        if (rs == 0) {
            return 0;
        }
        return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
    }

    private static long crystalTicks(long nanos) {
        return Math.floorDiv(nanos, NANOS) * CRYSTAL + Math.floorMod(nanos, NANOS) * CRYSTAL / NANOS;
    }

    private static long nanosOfCrystalTick(long t) {
        return Math.floorDiv(t, CRYSTAL) * NANOS + (Math.floorMod(t, CRYSTAL) * NANOS + CRYSTAL - 1) / CRYSTAL;
    }

    private boolean running() {
        return (cmos[REG_B] & B_SET) == 0;
    }

    /** Derives register C from the time elapsed since the last look and drives IRQ 8. */
    private void updateFlags() {
        long now = guestNanos();
        long last = flagsCheckedAt;
        if (now > last) {
            int p = periodTicks();
            int c = cmos[REG_C] & 0x70;
            if (p != 0 && Math.floorDiv(crystalTicks(now), p) > Math.floorDiv(crystalTicks(last), p)) {
                c |= C_PF;
            }
            if (running() && Math.floorDiv(now, NANOS) > Math.floorDiv(last, NANOS)) {
                c |= C_UF;
                if (alarmMatches(dateTime(now))) {
                    c |= C_AF;
                }
            }
            cmos[REG_C] = (byte) c;
            flagsCheckedAt = now;
        }
        int c = cmos[REG_C] & 0x70;
        boolean irqf = (c & cmos[REG_B] & (B_PIE | B_AIE | B_UIE)) != 0;
        cmos[REG_C] = (byte) (c | (irqf ? C_IRQF : 0));
        if (irqf != irqLevel) {
            irqLevel = irqf;
            if (irqf) {
                interrupts++;
            }
            irq.set(irqf);
        }
    }

    private boolean alarmMatches(LocalDateTime t) {
        return matches(cmos[SECONDS_ALARM], encode(t.getSecond())) && matches(cmos[MINUTES_ALARM], encode(t.getMinute()))
                && matches(cmos[HOURS_ALARM], encodeHour(t.getHour()));
    }

    private static boolean matches(byte alarm, int value) {
        int a = alarm & 0xFF;
        return (a & ALARM_DONT_CARE) == ALARM_DONT_CARE || a == value;
    }

    /** Schedules the VM-clock timer at the next boundary an enabled interrupt cares about. */
    private void schedule() {
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
        long gen = ++timerGeneration;
        if (closed || irqLevel) {
            return; // nothing new can be signalled until the guest reads register C
        }
        long now = guestNanos();
        long next = Long.MAX_VALUE;
        int p = periodTicks();
        if ((cmos[REG_B] & B_PIE) != 0 && p != 0) {
            next = nanosOfCrystalTick((Math.floorDiv(crystalTicks(now), p) + 1) * p);
        }
        if ((cmos[REG_B] & (B_AIE | B_UIE)) != 0 && running()) {
            next = Math.min(next, (Math.floorDiv(now, NANOS) + 1) * NANOS);
        }
        if (next != Long.MAX_VALUE) {
            timer = clock.schedule(next - offset, () -> fired(gen));
        }
    }

    private synchronized void fired(long gen) {
        if (gen != timerGeneration || closed) {
            return;
        }
        timer = null;
        updateFlags();
        schedule();
    }

    // ---- ports ----------------------------------------------------------------------------------

    private int readRegister(int reg) {
        if (isTime(reg)) {
            return readTime(reg);
        }
        switch (reg) {
            case REG_A -> {
                int a = cmos[REG_A] & 0x7F;
                long frac = Math.floorMod(guestNanos(), NANOS);
                if (running() && frac >= NANOS - UIP_NANOS) {
                    a |= A_UIP;
                }
                return a;
            }
            case REG_C -> {
                updateFlags();
                int c = cmos[REG_C] & 0xF0;
                cmos[REG_C] = 0; // read clears every flag and IRQF, which lowers IRQ 8
                if (irqLevel) {
                    irqLevel = false;
                    irq.lower();
                }
                schedule();
                return c;
            }
            case REG_D -> {
                return D_VRT;
            }
            default -> {
                return cmos[reg] & 0xFF;
            }
        }
    }

    private void writeRegister(int reg, int v) {
        if (isTime(reg)) {
            boolean set = !running();
            if (!set) {
                captureTime();
            }
            setRegisters[slot(reg)] = v;
            if (!set) {
                applyTime(); // a write while running sets the clock at once (QEMU)
            }
            schedule();
            return;
        }
        switch (reg) {
            case REG_A -> {
                updateFlags();
                cmos[REG_A] = (byte) (v & 0x7F); // UIP is read-only
            }
            case REG_B -> {
                updateFlags();
                int old = cmos[REG_B];
                if ((v & B_SET) != 0 && (old & B_SET) == 0) {
                    captureTime();
                }
                if ((v & B_SET) != 0) {
                    v &= ~B_UIE; // datasheet: SET clears UIE
                }
                cmos[REG_B] = (byte) v;
                if ((v & B_SET) == 0 && (old & B_SET) != 0) {
                    applyTime();
                }
                updateFlags(); // enabling an interrupt whose flag is already set raises IRQ 8
            }
            case REG_C, REG_D -> {
                // read-only
            }
            default -> cmos[reg] = (byte) v;
        }
        schedule();
    }

    private final class Ports implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (Rtc.this) {
                int v = offset == 0 ? 0xFF : readRegister(index);
                return size == 1 ? v : v | (int) (((1L << (8 * size)) - 1) & ~0xFFL);
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (Rtc.this) {
                if (offset == 0) {
                    index = value & 0x7F;
                    nmiDisabled = (value & 0x80) != 0;
                    if (size > 1) {
                        writeRegister(index, (value >>> 8) & 0xFF); // OUT DX, AX: index then data
                    }
                } else {
                    writeRegister(index, value & 0xFF);
                }
            }
        }
    }

    // ---- Device -----------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    /** A system reset keeps the clock and NVRAM (battery backed) and clears the interrupt enables. */
    @Override
    public synchronized void reset() {
        cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SET);
        cmos[REG_C] = 0;
        if (irqLevel) {
            irqLevel = false;
            irq.lower();
        }
        schedule();
    }

    @Override
    public synchronized SavedState saveState() {
        return SavedState.builder(STATE_TYPE, STATE_VERSION)
                .put("cmos", cmos.clone())
                .put("offset-nanos", offset)
                .put("flags-checked-at", flagsCheckedAt)
                .put("set-registers", setRegisters.clone())
                .put("index", index)
                .put("nmi-disabled", nmiDisabled)
                .put("irq-level", irqLevel)
                .build();
    }

    @Override
    public synchronized void restoreState(SavedState state) {
        state.require(STATE_TYPE, 1, STATE_VERSION);
        byte[] c = state.getBytes("cmos");
        int[] s = state.getInts("set-registers");
        if (c.length != cmos.length || s.length != setRegisters.length) {
            throw new IllegalArgumentException("mc146818 state: " + c.length + " CMOS bytes, " + s.length
                    + " set registers; expected 128 and 11");
        }
        System.arraycopy(c, 0, cmos, 0, cmos.length);
        System.arraycopy(s, 0, setRegisters, 0, s.length);
        offset = state.getLong("offset-nanos");
        flagsCheckedAt = state.getLong("flags-checked-at");
        index = state.getInt("index") & 0x7F;
        nmiDisabled = state.getBoolean("nmi-disabled");
        irqLevel = state.getBoolean("irq-level");
        irq.set(irqLevel);
        schedule();
    }

    @Override
    public List<String> resources() {
        return List.of("io 0x70-0x71", "irq 8");
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("interrupts", interrupts);
        m.put("time-sets", timeSets);
        m.put("nmi-disabled", nmiDisabled ? 1L : 0L);
        m.put("guest-epoch-seconds", Math.floorDiv(guestNanos(), NANOS));
        return m;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            timerGeneration++;
            if (timer != null) {
                timer.cancel();
                timer = null;
            }
        }
        registration.close();
    }
}
