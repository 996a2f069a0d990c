package org.polyvisor.dev.i8042.internal;

import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.polyvisor.device.Device;
import org.polyvisor.device.DeviceContext;
import org.polyvisor.device.VmControl;
import org.polyvisor.io.PortDevice;
import org.polyvisor.io.Registration;
import org.polyvisor.irq.IrqLine;
import org.polyvisor.part.SavedState;

/**
 * The 8042 keyboard controller of a PC/AT with an MF2 keyboard and a PS/2 mouse behind it, and
 * the PS/2 system control port A (0x92). Command and status names follow the IBM PS/2 Hardware
 * Interface Technical Reference and QEMU's hw/input/pckbd.c; what Linux's i8042 and atkbd drivers
 * do at probe (controller self test 0xaa -> 0x55, interface tests 0xab/0xa9 -> 0x00, command byte
 * through 0x20/0x60, keyboard reset 0xff -> 0xfa 0xaa, identify 0xf2 -> 0xfa 0xab 0x41/0x83) is
 * answered exactly.
 *
 * <p>System reset: controller command 0xfe (or any 0xf0-0xff pulse with output bit 0 selected,
 * or an output-port write with bit 0 clear) and a 0 -> 1 write of bit 0 at port 0x92 reset the
 * machine through {@link VmControl#reset()}. A20: the gate is output-port bit 1 OR port 0x92 bit 1,
 * as on PS/2 machines; every change goes to {@link VmControl#setA20}, which masks address bit 20
 * of the vCPUs' physical accesses while the gate is closed (also after {@link #restoreState}).
 *
 * <p>Threat model: the guest controls every byte written to 0x60, 0x64 and 0x92. Unknown
 * controller commands are ignored, unknown device commands answer 0xfe (resend) as a keyboard
 * does, and the output queue holds at most {@value #QUEUE_LIMIT} bytes (further replies are
 * dropped), so no sequence grows memory or throws.
 */
final class I8042 implements Device {

    /** Saved-state type and version. */
    static final String STATE_TYPE = "i8042";
    static final int STATE_VERSION = 1;

    /** Bound of the output queue (QEMU's PS/2 queue is 16 bytes per device). */
    static final int QUEUE_LIMIT = 32;

    /** Status register bits (port 0x64 read). */
    static final int STAT_OBF = 0x01;
    static final int STAT_SYS = 0x04;
    static final int STAT_CMD = 0x08;
    static final int STAT_UNLOCKED = 0x10;
    static final int STAT_AUX_OBF = 0x20;

    /** Command byte bits. */
    static final int MODE_KBD_INT = 0x01;
    static final int MODE_AUX_INT = 0x02;
    static final int MODE_SYS = 0x04;
    static final int MODE_DISABLE_KBD = 0x10;
    static final int MODE_DISABLE_AUX = 0x20;
    static final int MODE_TRANSLATE = 0x40;

    /** Output port bits. */
    static final int OUT_RESET = 0x01; // 0 holds the CPU in reset
    static final int OUT_A20 = 0x02;
    static final int OUT_KBD_OBF = 0x10;
    static final int OUT_AUX_OBF = 0x20;

    /** Port 0x92 bits. */
    static final int P92_RESET = 0x01;
    static final int P92_A20 = 0x02;

    /** Keyboard replies. */
    static final int ACK = 0xFA;
    static final int RESEND = 0xFE;
    static final int BAT_OK = 0xAA;

    private final String name;
    private final VmControl control;
    private final IrqLine irq1;
    private final IrqLine irq12;
    private final Registration data;
    private final Registration command;
    private final Registration port92;

    private int status;
    private int mode;
    private int outputPort;
    private int port92Bits;
    /** Controller command waiting for its data byte on port 0x60, or 0. */
    private int pendingCommand;
    /** Keyboard command waiting for its parameter, or 0. */
    private int keyboardPending;
    /** Mouse command waiting for its parameter, or 0. */
    private int mousePending;
    private boolean keyboardScanning;
    private boolean mouseReporting;
    private int mouseRate;
    private int mouseResolution;
    private int lastRead;
    /** Output bytes, oldest first; bit 8 marks a byte from the auxiliary (mouse) port. */
    private final ArrayDeque<Integer> queue = new ArrayDeque<>();
    private boolean irq1Level;
    private boolean irq12Level;

    private long resets;
    private long a20Changes;
    private long dropped;
    private long commands;

    I8042(DeviceContext context) {
        this.name = context.instanceName();
        this.control = context.control();
        this.irq1 = context.irq(1);
        this.irq12 = context.irq(12);
        powerOn();
        this.data = context.ports().map(0x60, 1, name, new DataPort());
        try {
            this.command = context.ports().map(0x64, 1, name + "-command", new CommandPort());
            try {
                this.port92 = context.ports().map(0x92, 1, name + "-port92", new Port92());
            } catch (RuntimeException e) {
                command.close();
                throw e;
            }
        } catch (RuntimeException e) {
            data.close();
            throw e;
        }
    }

    private void powerOn() {
        status = STAT_CMD | STAT_UNLOCKED;
        mode = MODE_KBD_INT | MODE_AUX_INT; // QEMU's reset value
        outputPort = OUT_RESET | OUT_A20;   // A20 enabled, as QEMU and the interpreter assume
        port92Bits = 0;
        pendingCommand = 0;
        keyboardPending = 0;
        mousePending = 0;
        keyboardScanning = true;
        mouseReporting = false;
        mouseRate = 100;
        mouseResolution = 2;
        lastRead = 0;
        queue.clear();
    }

    /** Whether address line 20 is enabled: output port bit 1 OR port 0x92 bit 1. */
    synchronized boolean a20() {
        return (outputPort & OUT_A20) != 0 || (port92Bits & P92_A20) != 0;
    }

    // ---- output queue and interrupts ------------------------------------------------------------

    private void queue(int b, boolean aux) {
        if (queue.size() >= QUEUE_LIMIT) {
            dropped++;
            return;
        }
        queue.add((b & 0xFF) | (aux ? 0x100 : 0));
    }

    /** Status OBF/AUX_OBF and the IRQ lines follow the head of the queue (QEMU kbd_update_irq). */
    private void updateIrq() {
        Integer head = queue.peek();
        status &= ~(STAT_OBF | STAT_AUX_OBF);
        outputPort &= ~(OUT_KBD_OBF | OUT_AUX_OBF);
        boolean kbd = false;
        boolean aux = false;
        if (head != null) {
            status |= STAT_OBF;
            if ((head & 0x100) != 0) {
                status |= STAT_AUX_OBF;
                outputPort |= OUT_AUX_OBF;
                aux = (mode & MODE_AUX_INT) != 0;
            } else {
                outputPort |= OUT_KBD_OBF;
                kbd = (mode & MODE_KBD_INT) != 0;
            }
        }
        if (kbd != irq1Level) {
            irq1Level = kbd;
            irq1.set(kbd);
        }
        if (aux != irq12Level) {
            irq12Level = aux;
            irq12.set(aux);
        }
    }

    private void lowerIrqs() {
        if (irq1Level) {
            irq1Level = false;
            irq1.set(false);
        }
        if (irq12Level) {
            irq12Level = false;
            irq12.set(false);
        }
    }

    // ---- controller commands -------------------------------------------------------------------

    private void controllerCommand(int cmd) {
        commands++;
        status |= STAT_CMD;
        switch (cmd) {
            case 0x20 -> queue(mode, false);                  // read command byte
            case 0x60, 0xD1, 0xD2, 0xD3, 0xD4 -> pendingCommand = cmd;
            case 0xA7 -> mode |= MODE_DISABLE_AUX;
            case 0xA8 -> mode &= ~MODE_DISABLE_AUX;
            case 0xA9 -> queue(0x00, false);                  // aux interface test: OK
            case 0xAA -> {                                    // controller self test
                status |= STAT_SYS;
                queue(0x55, false);
            }
            case 0xAB -> queue(0x00, false);                  // keyboard interface test: OK
            case 0xAD -> mode |= MODE_DISABLE_KBD;
            case 0xAE -> mode &= ~MODE_DISABLE_KBD;
            case 0xC0 -> queue(0x00, false);                  // input port
            case 0xD0 -> queue(outputPort, false);            // read output port
            case 0xDD -> setOutputPort(outputPort & ~OUT_A20); // HP Vectra: disable A20
            case 0xDF -> setOutputPort(outputPort | OUT_A20);
            case 0xE0 -> queue(0x00, false);                  // test inputs
            default -> {
                if (cmd >= 0xF0) {
                    // Pulse output bits 0-3 that are 0 in the command; bit 0 is the reset line.
                    if ((cmd & 1) == 0) {
                        systemReset();
                    }
                }
                // other commands: ignored, as QEMU does
            }
        }
    }

    private void controllerData(int cmd, int b) {
        switch (cmd) {
            case 0x60 -> {
                mode = b;
                status = (status & ~STAT_SYS) | (b & MODE_SYS);
            }
            case 0xD1 -> setOutputPort(b);
            case 0xD2 -> queue(b, false);
            case 0xD3 -> queue(b, true);
            case 0xD4 -> mouseByte(b);
            default -> {
            }
        }
    }

    private void setOutputPort(int v) {
        boolean before = a20();
        outputPort = (outputPort & (OUT_KBD_OBF | OUT_AUX_OBF)) | (v & ~(OUT_KBD_OBF | OUT_AUX_OBF));
        a20Written(before);
        if ((v & OUT_RESET) == 0) {
            outputPort |= OUT_RESET; // the reset line is a pulse, the machine comes back with it high
            systemReset();
        }
    }

    /** After a write that may move the gate: counts a change and tells the platform (it masks bit 20). */
    private void a20Written(boolean before) {
        boolean now = a20();
        if (before != now) {
            a20Changes++;
            control.setA20(now);
        }
    }

    private void systemReset() {
        resets++;
        control.reset();
    }

    // ---- keyboard and mouse ----------------------------------------------------------------------

    private void keyboardByte(int b) {
        if (keyboardPending != 0) {
            int cmd = keyboardPending;
            keyboardPending = 0;
            if (cmd == 0xF0 && b == 0) {
                queue(ACK, false);
                queue((mode & MODE_TRANSLATE) != 0 ? 0x41 : 0x02, false); // current set: 2
            } else {
                queue(ACK, false);
            }
            return;
        }
        switch (b) {
            case 0xFF -> {                       // reset and self test (BAT)
                keyboardScanning = true;
                queue(ACK, false);
                queue(BAT_OK, false);
            }
            case 0xF2 -> {                       // identify: MF2, translated or not
                queue(ACK, false);
                queue(0xAB, false);
                queue((mode & MODE_TRANSLATE) != 0 ? 0x41 : 0x83, false);
            }
            case 0xED, 0xF0, 0xF3 -> {           // LEDs, scan code set, typematic: one parameter
                keyboardPending = b;
                queue(ACK, false);
            }
            case 0xEE -> queue(0xEE, false);     // echo
            case 0xF4 -> {
                keyboardScanning = true;
                queue(ACK, false);
            }
            case 0xF5 -> {
                keyboardScanning = false;
                queue(ACK, false);
            }
            case 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB -> queue(ACK, false);
            default -> queue(RESEND, false);
        }
    }

    private void mouseByte(int b) {
        if (mousePending != 0) {
            int cmd = mousePending;
            mousePending = 0;
            if (cmd == 0xF3) {
                mouseRate = b;
            } else if (cmd == 0xE8) {
                mouseResolution = b & 3;
            }
            queue(ACK, true);
            return;
        }
        switch (b) {
            case 0xFF -> {                       // reset: BAT OK, device ID 0
                mouseReporting = false;
                queue(ACK, true);
                queue(BAT_OK, true);
                queue(0x00, true);
            }
            case 0xF2 -> {
                queue(ACK, true);
                queue(0x00, true);
            }
            case 0xE9 -> {                       // status request
                queue(ACK, true);
                queue(mouseReporting ? 0x20 : 0x00, true);
                queue(mouseResolution, true);
                queue(mouseRate, true);
            }
            case 0xF3, 0xE8 -> {
                mousePending = b;
                queue(ACK, true);
            }
            case 0xF4 -> {
                mouseReporting = true;
                queue(ACK, true);
            }
            case 0xF5 -> {
                mouseReporting = false;
                queue(ACK, true);
            }
            case 0xF6, 0xE6, 0xE7, 0xEA, 0xEB, 0xF0 -> queue(ACK, true);
            default -> queue(RESEND, true);
        }
    }

    // ---- ports -----------------------------------------------------------------------------------

    private final class DataPort implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (I8042.this) {
                Integer b = queue.poll();
                if (b != null) {
                    lastRead = b & 0xFF;
                }
                // Reading empties the output buffer: OBF and the interrupt line fall, and the next
                // byte of a reply (GETID's ID bytes, BAT after an ACK) fills it and raises the line
                // again. IRQ 1 and 12 are edge triggered on the 8259, so each byte needs that fresh
                // edge; a line held high across the read would deliver one interrupt for the whole
                // reply and leave the rest unread (QEMU's ps2_read_data pulses the line likewise).
                lowerIrqs();
                updateIrq();
                return lastRead;
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (I8042.this) {
                int b = value & 0xFF;
                status &= ~STAT_CMD;
                if (pendingCommand != 0) {
                    int cmd = pendingCommand;
                    pendingCommand = 0;
                    controllerData(cmd, b);
                } else {
                    mode &= ~MODE_DISABLE_KBD; // writing to the keyboard enables its clock
                    keyboardByte(b);
                }
                updateIrq();
            }
        }
    }

    private final class CommandPort implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (I8042.this) {
                return status;
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (I8042.this) {
                controllerCommand(value & 0xFF);
                updateIrq();
            }
        }
    }

    private final class Port92 implements PortDevice {
        @Override
        public int read(int offset, int size) {
            synchronized (I8042.this) {
                return port92Bits & P92_A20;
            }
        }

        @Override
        public void write(int offset, int size, int value) {
            synchronized (I8042.this) {
                boolean before = a20();
                int old = port92Bits;
                port92Bits = value & (P92_A20 | P92_RESET);
                a20Written(before);
                if ((value & P92_RESET) != 0 && (old & P92_RESET) == 0) {
                    port92Bits &= ~P92_RESET;
                    systemReset(); // fast reset: a 0 -> 1 transition of bit 0
                }
            }
        }
    }

    // ---- Device ----------------------------------------------------------------------------------

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void reset() {
        boolean before = a20();
        powerOn();
        a20Written(before); // power-on opens the gate again
        updateIrq();
    }

    @Override
    public synchronized SavedState saveState() {
        int[] q = queue.stream().mapToInt(Integer::intValue).toArray();
        return SavedState.builder(STATE_TYPE, STATE_VERSION)
                .put("status", status).put("mode", mode).put("output-port", outputPort)
                .put("port92", port92Bits).put("pending-command", pendingCommand)
                .put("keyboard-pending", keyboardPending).put("mouse-pending", mousePending)
                .put("keyboard-scanning", keyboardScanning).put("mouse-reporting", mouseReporting)
                .put("mouse-rate", mouseRate).put("mouse-resolution", mouseResolution)
                .put("last-read", lastRead).put("queue", q).put("a20", a20())
                .build();
    }

    @Override
    public synchronized void restoreState(SavedState s) {
        s.require(STATE_TYPE, 1, STATE_VERSION);
        int[] q = s.getInts("queue");
        if (q.length > QUEUE_LIMIT) {
            throw new IllegalArgumentException("i8042 state: " + q.length + " queued bytes, at most " + QUEUE_LIMIT);
        }
        status = s.getInt("status") & 0xFF;
        mode = s.getInt("mode") & 0xFF;
        outputPort = s.getInt("output-port") & 0xFF;
        port92Bits = s.getInt("port92") & P92_A20;
        pendingCommand = s.getInt("pending-command") & 0xFF;
        keyboardPending = s.getInt("keyboard-pending") & 0xFF;
        mousePending = s.getInt("mouse-pending") & 0xFF;
        keyboardScanning = s.getBoolean("keyboard-scanning");
        mouseReporting = s.getBoolean("mouse-reporting");
        mouseRate = s.getInt("mouse-rate") & 0xFF;
        mouseResolution = s.getInt("mouse-resolution") & 3;
        lastRead = s.getInt("last-read") & 0xFF;
        queue.clear();
        for (int b : q) {
            queue.add(b & 0x1FF);
        }
        control.setA20(a20()); // the platform's mask follows the restored gate, whatever it was
        updateIrq();
    }

    @Override
    public List<String> resources() {
        return List.of("io 0x60", "io 0x64", "io 0x92", "irq 1", "irq 12");
    }

    @Override
    public synchronized Map<String, Long> stats() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("a20-enabled", a20() ? 1L : 0L);
        m.put("a20-changes", a20Changes);
        m.put("resets", resets);
        m.put("commands", commands);
        m.put("queue-dropped", dropped);
        return m;
    }

    @Override
    public void close() {
        data.close();
        command.close();
        port92.close();
    }
}
