package org.polyvisor.cpu.interpreter.internal;

import org.polyvisor.cpu.ActivityState;
import org.polyvisor.cpu.CpuState;
import org.polyvisor.cpu.SegmentRegister;
import org.polyvisor.x86.ControlRegisters;
import org.polyvisor.x86.Descriptors;
import org.polyvisor.x86.Eflags;
import org.polyvisor.x86.X86Exception;
import org.polyvisor.x86.decode.Instruction;
import org.polyvisor.x86.decode.Mnemonic;

/**
 * Flag control, privileged and system instructions: CLI/STI, HLT, control and debug registers,
 * descriptor-table registers, LDTR/TR, MSRs, CPUID, RDTSC, segment inspection (LAR/LSL/VERR/VERW),
 * SYSENTER/SYSEXIT, and the entry points of the x87 (see {@link X87}).
 */
final class SystemOps {

    static final int MSR_TSC = 0x10;
    static final int MSR_SYSENTER_CS = 0x174;
    static final int MSR_SYSENTER_ESP = 0x175;
    static final int MSR_SYSENTER_EIP = 0x176;

    /** CR0 bits that exist on this CPU. */
    private static final int CR0_VALID = ControlRegisters.CR0_PE | ControlRegisters.CR0_MP | ControlRegisters.CR0_EM
            | ControlRegisters.CR0_TS | ControlRegisters.CR0_ET | ControlRegisters.CR0_NE | ControlRegisters.CR0_WP
            | ControlRegisters.CR0_AM | ControlRegisters.CR0_NW | ControlRegisters.CR0_CD | ControlRegisters.CR0_PG;
    /** CR4 bits this engine supports. */
    private static final int CR4_VALID = ControlRegisters.CR4_TSD | ControlRegisters.CR4_DE | ControlRegisters.CR4_PSE
            | ControlRegisters.CR4_PAE | ControlRegisters.CR4_MCE | ControlRegisters.CR4_PGE | ControlRegisters.CR4_PCE;

    private SystemOps() {
    }

    /**
     * The CR4 bits the CPU model allows: PSE, PAE, TSD, DE, MCE, PGE only when reported (SDM Vol. 3A
     * 2.5: setting a reserved bit raises #GP). VME and PVI are never valid: this engine does not
     * implement the virtual-8086 mode extensions and no model reports them.
     */
    static int cr4Valid(Cpu c) {
        org.polyvisor.x86.CpuModel m = c.model;
        int v = CR4_VALID;
        for (int[] f : CR4_FEATURES) {
            if (!m.has(f[0])) {
                v &= ~f[1];
            }
        }
        if (m.has(org.polyvisor.x86.CpuModel.EDX_FXSR)) {
            // Linux's fpu__init_cpu_generic sets OSFXSR whenever CPUID reports FXSR
            v |= ControlRegisters.CR4_OSFXSR;
        }
        return v;
    }

    /** Leaf 1 EDX feature bit, and the CR4 bit that is reserved without it. */
    private static final int[][] CR4_FEATURES = {
        {org.polyvisor.x86.CpuModel.EDX_DE, ControlRegisters.CR4_DE},
        {org.polyvisor.x86.CpuModel.EDX_PSE, ControlRegisters.CR4_PSE},
        {org.polyvisor.x86.CpuModel.EDX_TSC, ControlRegisters.CR4_TSD},
        {org.polyvisor.x86.CpuModel.EDX_PAE, ControlRegisters.CR4_PAE},
        {org.polyvisor.x86.CpuModel.EDX_MCE, ControlRegisters.CR4_MCE},
        {org.polyvisor.x86.CpuModel.EDX_PGE, ControlRegisters.CR4_PGE}};

    /** #UD unless the CPU model reports the leaf 1 EDX feature (SYSENTER without SEP, RDTSC without TSC ...). */
    static void requireFeature(Cpu c, int edxBit) {
        if (!c.model.has(edxBit)) {
            throw X86Exception.invalidOpcode();
        }
    }

    /** #GP(0) unless CPL is 0 (and not virtual-8086 mode). */
    static void requireCpl0(Cpu c) {
        if (c.pe && (c.cpl != 0 || c.v86())) {
            throw X86Exception.generalProtection(0);
        }
    }

    /** #UD in real and virtual-8086 mode (instructions that only exist in protected mode). */
    static void requireProtectedMode(Cpu c) {
        if (!c.pe || c.v86()) {
            throw X86Exception.invalidOpcode();
        }
    }

    // ---- flags ----

    static void cli(Cpu c) {
        if (c.pe && c.cpl > c.iopl() || c.v86() && c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        c.flags &= ~Eflags.IF;
    }

    static void sti(Cpu c) {
        if (c.pe && c.cpl > c.iopl() || c.v86() && c.iopl() < 3) {
            throw X86Exception.generalProtection(0);
        }
        if ((c.flags & Eflags.IF) == 0) {
            c.flags |= Eflags.IF;
            c.shadow |= CpuState.SHADOW_STI; // the next instruction runs before any interrupt
        }
    }

    static void hlt(Cpu c) {
        requireCpl0(c);
        c.activity = ActivityState.HALTED;
        c.stop = true;
    }

    // ---- control and debug registers ----

    static void movCr(Cpu c, Instruction in) {
        requireCpl0(c);
        boolean toCr = in.kind(0) == Instruction.KIND_CREG;
        int n = toCr ? in.reg(0) : in.reg(1);
        if (n == 1 || n > 4) {
            throw X86Exception.invalidOpcode();
        }
        if (!toCr) {
            int v = switch (n) {
                case 0 -> c.cr0;
                case 2 -> c.cr2;
                case 3 -> c.cr3;
                default -> c.cr4;
            };
            c.r[in.reg(0)] = v;
            return;
        }
        int v = c.r[in.reg(1)];
        switch (n) {
            case 0 -> writeCr0(c, v);
            case 2 -> c.cr2 = v;
            case 3 -> {
                c.cr3 = v;
                c.updatePagingMode();
            }
            default -> {
                if ((v & ~cr4Valid(c)) != 0) {
                    throw X86Exception.generalProtection(0);
                }
                c.cr4 = v;
                c.updatePagingMode();
            }
        }
    }

    static void writeCr0(Cpu c, int v) {
        if ((v & ControlRegisters.CR0_PG) != 0 && (v & ControlRegisters.CR0_PE) == 0
                || (v & ControlRegisters.CR0_NW) != 0 && (v & ControlRegisters.CR0_CD) == 0) {
            throw X86Exception.generalProtection(0);
        }
        int old = c.cr0;
        c.cr0 = (v & CR0_VALID) | ControlRegisters.CR0_ET;
        boolean pe = (c.cr0 & ControlRegisters.CR0_PE) != 0;
        if (pe != c.pe) {
            c.pe = pe;
            if (!pe) {
                c.setCpl(0);
            }
            c.refreshAllSegments();
        }
        int pagingBits = ControlRegisters.CR0_PG | ControlRegisters.CR0_WP | ControlRegisters.CR0_PE;
        if (((old ^ c.cr0) & pagingBits) != 0) {
            c.updatePagingMode();
        }
    }

    static void movDr(Cpu c, Instruction in) {
        requireCpl0(c);
        boolean toDr = in.kind(0) == Instruction.KIND_DREG;
        int n = toDr ? in.reg(0) : in.reg(1);
        if (n == 4 || n == 5) {
            if ((c.cr4 & ControlRegisters.CR4_DE) != 0) {
                throw X86Exception.invalidOpcode();
            }
            n += 2;
        }
        if (toDr) {
            int v = c.r[in.reg(1)];
            c.dr[n] = switch (n) {
                case 6 -> (v | 0xFFFF_0FF0L) & 0xFFFF_EFFFL;
                case 7 -> (v | 0x400L) & 0xFFFF_2FFFL;
                default -> v & 0xFFFF_FFFFL;
            };
        } else {
            c.r[in.reg(0)] = (int) c.dr[n];
        }
    }

    static void clts(Cpu c) {
        requireCpl0(c);
        c.cr0 &= ~ControlRegisters.CR0_TS;
    }

    static void lmsw(Cpu c, Instruction in) {
        requireCpl0(c);
        int v = c.readOp(in, 0) & 0xF;
        // LMSW can set PE but never clear it.
        writeCr0(c, (c.cr0 & ~0xE) | v | (c.cr0 & ControlRegisters.CR0_PE));
    }

    static void smsw(Cpu c, Instruction in) {
        if (in.kind(0) == Instruction.KIND_MEM) {
            c.write(in.segment(), c.ea(in), 2, c.cr0);
        } else {
            c.writeOp(in, 0, c.cr0);
        }
    }

    static void invlpg(Cpu c, Instruction in) {
        requireCpl0(c);
        long linear = (c.segBase[in.segment()] + (c.ea(in) & 0xFFFF_FFFFL)) & 0xFFFF_FFFFL;
        c.tlb.flushPage(linear);
        c.invalidateFetch();
        if (c.mmu != null) {
            c.mmu.invalidatePage(c.context.vcpuId(), linear);
        }
    }

    // ---- descriptor tables ----

    static void loadTableRegister(Cpu c, Instruction in, boolean idt) {
        requireCpl0(c);
        int off = c.ea(in);
        int limit = c.read(in.segment(), off, 2);
        int base = c.read(in.segment(), off + 2, 4);
        if (in.opSize() == 2) {
            base &= 0x00FF_FFFF;
        }
        if (idt) {
            c.idtBase = base & 0xFFFF_FFFFL;
            c.idtLimit = limit;
        } else {
            c.gdtBase = base & 0xFFFF_FFFFL;
            c.gdtLimit = limit;
        }
    }

    static void storeTableRegister(Cpu c, Instruction in, boolean idt) {
        int off = c.ea(in);
        int limit = idt ? c.idtLimit : c.gdtLimit;
        int base = (int) (idt ? c.idtBase : c.gdtBase);
        if (in.opSize() == 2) {
            base &= 0x00FF_FFFF;
        }
        c.linearWrite(in.segment(), off, 6);
        c.write(in.segment(), off, 2, limit);
        c.write(in.segment(), off + 2, 4, base);
    }

    static void lldt(Cpu c, Instruction in) {
        requireProtectedMode(c);
        requireCpl0(c);
        int sel = c.readOp(in, 0) & 0xFFFF;
        if ((sel & 0xFFFC) == 0) {
            c.ldtr = new SegmentRegister(sel, 0, 0, SegmentRegister.UNUSABLE);
            return;
        }
        if ((sel & Descriptors.SELECTOR_TI) != 0) {
            throw X86Exception.generalProtection(sel & 0xFFFC);
        }
        long d = c.readDescriptor(sel, false);
        int attr = Descriptors.attributes((int) (d >>> 32));
        if (Descriptors.isCodeOrData(attr) || Descriptors.type(attr) != Descriptors.LDT) {
            throw X86Exception.generalProtection(sel & 0xFFFC);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(sel & 0xFFFC);
        }
        c.ldtr = Descriptors.toSegment(sel, (int) d, (int) (d >>> 32));
    }

    static void ltr(Cpu c, Instruction in) {
        requireProtectedMode(c);
        requireCpl0(c);
        int sel = c.readOp(in, 0) & 0xFFFF;
        if ((sel & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        if ((sel & Descriptors.SELECTOR_TI) != 0) {
            throw X86Exception.generalProtection(sel & 0xFFFC);
        }
        long d = c.readDescriptor(sel, false);
        int hi = (int) (d >>> 32);
        int attr = Descriptors.attributes(hi);
        int type = Descriptors.type(attr);
        if (Descriptors.isCodeOrData(attr) || type != Descriptors.TSS16_AVAILABLE && type != Descriptors.TSS32_AVAILABLE) {
            throw X86Exception.generalProtection(sel & 0xFFFC);
        }
        if (!Descriptors.isPresent(attr)) {
            throw X86Exception.notPresent(sel & 0xFFFC);
        }
        hi |= 0x200; // busy
        c.writeLinear(c.descriptorAddress(sel) + 4, 4, hi, false);
        c.tr = Descriptors.toSegment(sel, (int) d, hi);
    }

    static void storeSelector(Cpu c, Instruction in, int selector) {
        requireProtectedMode(c);
        if (in.kind(0) == Instruction.KIND_MEM) {
            c.write(in.segment(), c.ea(in), 2, selector);
        } else {
            c.writeOp(in, 0, selector);
        }
    }

    /** LAR, LSL, VERR, VERW: inspect a descriptor without loading it; ZF says whether it is allowed. */
    static void inspect(Cpu c, Instruction in, Mnemonic m) {
        requireProtectedMode(c);
        int sel = (m == Mnemonic.VERR || m == Mnemonic.VERW ? c.readOp(in, 0) : c.readOp(in, 1)) & 0xFFFF;
        long d = readDescriptorQuietly(c, sel);
        boolean ok = d != -1;
        int lo = (int) d;
        int hi = (int) (d >>> 32);
        int attr = Descriptors.attributes(hi);
        if (ok) {
            int dpl = Descriptors.dpl(attr);
            boolean conformingCode = Descriptors.isConforming(attr);
            boolean privOk = conformingCode || dpl >= c.cpl && dpl >= (sel & 3);
            int type = Descriptors.type(attr);
            switch (m) {
                case LAR -> ok = privOk && (Descriptors.isCodeOrData(attr) || type != 0 && type != 8 && type != 0xA
                        && type != 0xD && type != 0x6 && type != 0x7 && type != 0xE && type != 0xF);
                case LSL -> ok = privOk && (Descriptors.isCodeOrData(attr) || type == 1 || type == 2 || type == 3
                        || type == 9 || type == 0xB);
                case VERR -> ok = Descriptors.isCodeOrData(attr) && (Descriptors.isData(attr)
                        || (attr & SegmentRegister.TYPE_RW) != 0) && (conformingCode || privOk);
                default -> ok = Descriptors.isData(attr) && (attr & SegmentRegister.TYPE_RW) != 0 && privOk;
            }
        }
        int f = c.lazy.get() & ~Eflags.ZF;
        if (ok) {
            f |= Eflags.ZF;
            if (m == Mnemonic.LAR) {
                c.writeOp(in, 0, hi & 0x00FF_FF00 & (in.opSize() == 2 ? 0xFF00 : -1));
            } else if (m == Mnemonic.LSL) {
                c.writeOp(in, 0, Descriptors.limit(lo, hi));
            }
        }
        c.lazy.setAll(f);
    }

    private static long readDescriptorQuietly(Cpu c, int sel) {
        if ((sel & 0xFFFC) == 0) {
            return -1;
        }
        try {
            return c.readDescriptor(sel, false);
        } catch (X86Exception e) {
            if (e.vector() == 14) {
                throw e;
            }
            return -1;
        }
    }

    // ---- MSRs, time, identification ----

    static void rdtsc(Cpu c) {
        requireFeature(c, org.polyvisor.x86.CpuModel.EDX_TSC);
        if ((c.cr4 & ControlRegisters.CR4_TSD) != 0 && c.pe && c.cpl != 0) {
            throw X86Exception.generalProtection(0);
        }
        long tsc = tsc(c);
        c.r[0] = (int) tsc;
        c.r[2] = (int) (tsc >>> 32);
    }

    /** The TSC ticks at a virtual 1 GHz: one tick per nanosecond of VM time, plus an offset. */
    static long tsc(Cpu c) {
        return c.context.clock().nanos() + c.tscOffset;
    }

    static void rdmsr(Cpu c) {
        requireFeature(c, org.polyvisor.x86.CpuModel.EDX_MSR);
        requireCpl0(c);
        int msr = c.r[1];
        long v;
        Long id;
        if (msr == MSR_TSC && c.model.has(org.polyvisor.x86.CpuModel.EDX_TSC)) {
            v = tsc(c);
        } else if ((id = c.model.identificationMsrs().get(msr)) != null) {
            v = id;
        } else if (c.interrupts.ownsMsr(msr)) {
            java.util.OptionalLong r = c.interrupts.readMsr(msr, tsc(c));
            if (r.isEmpty()) {
                throw X86Exception.generalProtection(0);
            }
            v = r.getAsLong();
        } else {
            Long kept = c.msrs.get(msr);
            if (kept == null) {
                throw X86Exception.generalProtection(0);
            }
            v = kept;
        }
        c.r[0] = (int) v;
        c.r[2] = (int) (v >>> 32);
    }

    static void wrmsr(Cpu c) {
        requireFeature(c, org.polyvisor.x86.CpuModel.EDX_MSR);
        requireCpl0(c);
        int msr = c.r[1];
        long v = (long) c.r[2] << 32 | (c.r[0] & 0xFFFF_FFFFL);
        if (msr == MSR_TSC && c.model.has(org.polyvisor.x86.CpuModel.EDX_TSC)) {
            c.tscOffset = v - c.context.clock().nanos();
        } else if (c.model.ignoresWrite(msr)) {
            return; // IA32_BIOS_SIGN_ID / IA32_BIOS_UPDT_TRIG: no microcode to load, the revision stays 0
        } else if (c.interrupts.ownsMsr(msr)) {
            if (!c.interrupts.writeMsr(msr, v, tsc(c))) {
                throw X86Exception.generalProtection(0);
            }
        } else if (c.msrs.containsKey(msr)) {
            c.msrs.put(msr, v);
        } else {
            throw X86Exception.generalProtection(0);
        }
    }

    static void rdpmc(Cpu c) {
        if (c.pe && c.cpl != 0 && (c.cr4 & ControlRegisters.CR4_PCE) == 0 || Integer.compareUnsigned(c.r[1], 1) > 0) {
            throw X86Exception.generalProtection(0);
        }
        c.r[0] = 0;
        c.r[2] = 0;
    }

    static void sysenter(Cpu c) {
        requireFeature(c, org.polyvisor.x86.CpuModel.EDX_SEP);
        int cs = (int) (long) c.msrs.getOrDefault(MSR_SYSENTER_CS, 0L) & 0xFFFF;
        if (!c.pe || (cs & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        c.flags &= ~(Eflags.VM | Eflags.IF | Eflags.RF);
        c.setCpl(0);
        c.setSegment(Cpu.CS, cs & 0xFFFC, 0, -1, SegmentRegister.P | SegmentRegister.S | 0xB
                | SegmentRegister.DB | SegmentRegister.G);
        c.setSegment(Cpu.SS, (cs + 8) & 0xFFFC, 0, -1, SegmentRegister.P | SegmentRegister.S | 0x3
                | SegmentRegister.DB | SegmentRegister.G);
        c.r[Cpu.ESP] = (int) (long) c.msrs.getOrDefault(MSR_SYSENTER_ESP, 0L);
        c.eip = (int) (long) c.msrs.getOrDefault(MSR_SYSENTER_EIP, 0L);
    }

    static void sysexit(Cpu c) {
        requireFeature(c, org.polyvisor.x86.CpuModel.EDX_SEP);
        int cs = (int) (long) c.msrs.getOrDefault(MSR_SYSENTER_CS, 0L) & 0xFFFF;
        if (!c.pe || c.cpl != 0 || (cs & 0xFFFC) == 0) {
            throw X86Exception.generalProtection(0);
        }
        c.setCpl(3);
        int dpl3 = 3 << SegmentRegister.DPL_SHIFT;
        c.setSegment(Cpu.CS, (cs + 16) | 3, 0, -1, SegmentRegister.P | SegmentRegister.S | 0xB | dpl3
                | SegmentRegister.DB | SegmentRegister.G);
        c.setSegment(Cpu.SS, (cs + 24) | 3, 0, -1, SegmentRegister.P | SegmentRegister.S | 0x3 | dpl3
                | SegmentRegister.DB | SegmentRegister.G);
        c.r[Cpu.ESP] = c.r[1];
        c.eip = c.r[2];
    }

    // ---- x87 (the FPU itself lives in X87) ----

    static void fwait(Cpu c) {
        c.x87.fwait(c);
    }

    static void x87(Cpu c, Instruction in) {
        c.x87.execute(c, in);
    }
}
