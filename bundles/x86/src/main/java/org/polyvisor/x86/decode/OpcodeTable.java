package org.polyvisor.x86.decode;

import java.util.ArrayList;
import java.util.List;

/**
 * The i686 one- and two-byte opcode maps (SDM Vol. 2D, Tables for groups) as
 * declarative rows: {@code opcode[/reg] MNEMONIC operands [lock]}. Two-byte opcodes are written
 * {@code 0Fxx}; {@code a-b} is a range (opcode low bits select a register or a condition); a
 * {@code /r} suffix places the row in the ModRM.reg group of that opcode. Anything not listed is
 * undefined (#UD). x87 escapes (D8-DF) are handled by the decoder.
 *
 * <p>The CPU modelled is a P6 without MMX/SSE: the MMX/SSE rows of the two-byte map are undefined.
 */
final class OpcodeTable {

    /** One decoded row. */
    static final class Entry {
        final Mnemonic mnemonic;
        final Operand[] operands;
        final boolean lockable;
        /** The row needs a ModRM byte. */
        boolean modrm;
        /** ModRM.reg-indexed group, or null. */
        Entry[] group;
        /** The ModRM.rm field names a register even when mod != 3 (MOV CRn). */
        final boolean rmAlwaysRegister;
        /** The row requires mod != 3 (has an M operand). */
        final boolean memoryOnly;

        Entry(Mnemonic mnemonic, Operand[] operands, boolean lockable) {
            this.mnemonic = mnemonic;
            this.operands = operands;
            this.lockable = lockable;
            boolean m = false;
            boolean r = false;
            boolean needsModrm = false;
            for (Operand o : operands) {
                switch (o.method()) {
                    case E, G, S, C, D -> needsModrm = true;
                    case M -> {
                        needsModrm = true;
                        m = true;
                    }
                    case R -> {
                        needsModrm = true;
                        r = true;
                    }
                    default -> { }
                }
            }
            this.modrm = needsModrm;
            this.memoryOnly = m;
            this.rmAlwaysRegister = r;
        }
    }

    static final Entry[] ONE_BYTE = new Entry[256];
    static final Entry[] TWO_BYTE = new Entry[256];
    /** Marker for the x87 escape opcodes D8-DF. */
    static final Entry X87 = new Entry(Mnemonic.X87, new Operand[0], false);

    private static final String[] ROWS = {
        // ---- one-byte map (Table A-2) ----
        "06 PUSH ES", "07 POP ES", "0E PUSH CS", "16 PUSH SS", "17 POP SS", "1E PUSH DS", "1F POP DS",
        "27 DAA", "2F DAS", "37 AAA", "3F AAS",
        "40-47 INC Zv", "48-4F DEC Zv", "50-57 PUSH Zv", "58-5F POP Zv",
        "60 PUSHA", "61 POPA", "62 BOUND Gv,Ma", "63 ARPL Ew,Gw",
        "68 PUSH Iz", "69 IMUL_RM Gv,Ev,Iz", "6A PUSH Ibs", "6B IMUL_RM Gv,Ev,Ibs",
        "6C INS Yb,DX", "6D INS Yv,DX", "6E OUTS DX,Xb", "6F OUTS DX,Xv",
        "70-7F JCC Jb",
        "84 TEST Eb,Gb", "85 TEST Ev,Gv", "86 XCHG Eb,Gb lock", "87 XCHG Ev,Gv lock",
        "88 MOV Eb,Gb", "89 MOV Ev,Gv", "8A MOV Gb,Eb", "8B MOV Gv,Ev",
        "8C MOV_SREG Ev,Sw", "8D LEA Gv,M", "8E MOV_SREG Sw,Ew", "8F/0 POP Ev",
        "90 NOP", "91-97 XCHG Zv,eAX", "98 CBW", "99 CWD", "9A CALL_FAR Ap", "9B WAIT",
        "9C PUSHF", "9D POPF", "9E SAHF", "9F LAHF",
        "A0 MOV AL,Ob", "A1 MOV eAX,Ov", "A2 MOV Ob,AL", "A3 MOV Ov,eAX",
        "A4 MOVS Yb,Xb", "A5 MOVS Yv,Xv", "A6 CMPS Xb,Yb", "A7 CMPS Xv,Yv",
        "A8 TEST AL,Ib", "A9 TEST eAX,Iz", "AA STOS Yb,AL", "AB STOS Yv,eAX",
        "AC LODS AL,Xb", "AD LODS eAX,Xv", "AE SCAS AL,Yb", "AF SCAS eAX,Yv",
        "B0-B7 MOV Zb,Ib", "B8-BF MOV Zv,Iv",
        "C2 RET Iw", "C3 RET", "C4 LES Gz,Mp", "C5 LDS Gz,Mp", "C6/0 MOV Eb,Ib", "C7/0 MOV Ev,Iz",
        "C8 ENTER Iw,Ib", "C9 LEAVE", "CA RET_FAR Iw", "CB RET_FAR", "CC INT3", "CD INT Ib", "CE INTO",
        "CF IRET",
        "D4 AAM Ib", "D5 AAD Ib", "D6 SALC", "D7 XLAT",
        "E0 LOOPNE Jb", "E1 LOOPE Jb", "E2 LOOP Jb", "E3 JCXZ Jb",
        "E4 IN AL,Ib", "E5 IN eAX,Ib", "E6 OUT Ib,AL", "E7 OUT Ib,eAX",
        "E8 CALL Jz", "E9 JMP Jz", "EA JMP_FAR Ap", "EB JMP Jb",
        "EC IN AL,DX", "ED IN eAX,DX", "EE OUT DX,AL", "EF OUT DX,eAX",
        "F1 INT1", "F4 HLT", "F5 CMC",
        "F6/0 TEST Eb,Ib", "F6/1 TEST Eb,Ib", "F6/2 NOT Eb lock", "F6/3 NEG Eb lock", "F6/4 MUL Eb",
        "F6/5 IMUL Eb", "F6/6 DIV Eb", "F6/7 IDIV Eb",
        "F7/0 TEST Ev,Iz", "F7/1 TEST Ev,Iz", "F7/2 NOT Ev lock", "F7/3 NEG Ev lock", "F7/4 MUL Ev",
        "F7/5 IMUL Ev", "F7/6 DIV Ev", "F7/7 IDIV Ev",
        "F8 CLC", "F9 STC", "FA CLI", "FB STI", "FC CLD", "FD STD",
        "FE/0 INC Eb lock", "FE/1 DEC Eb lock",
        "FF/0 INC Ev lock", "FF/1 DEC Ev lock", "FF/2 CALL Ev", "FF/3 CALL_FAR Mp", "FF/4 JMP Ev",
        "FF/5 JMP_FAR Mp", "FF/6 PUSH Ev",
        // ---- two-byte map (Table A-3) ----
        "0F00/0 SLDT Ev", "0F00/1 STR Ev", "0F00/2 LLDT Ew", "0F00/3 LTR Ew", "0F00/4 VERR Ew",
        "0F00/5 VERW Ew",
        "0F01/0 SGDT Ms", "0F01/1 SIDT Ms", "0F01/2 LGDT Ms", "0F01/3 LIDT Ms", "0F01/4 SMSW Ev",
        "0F01/6 LMSW Ew", "0F01/7 INVLPG Mb",
        "0F02 LAR Gv,Ew", "0F03 LSL Gv,Ew", "0F06 CLTS", "0F08 INVD", "0F09 WBINVD", "0F0B UD2",
        "0F18-1F NOP Ev",
        "0F20 MOV_CR Rd,Cd", "0F21 MOV_DR Rd,Dd", "0F22 MOV_CR Cd,Rd", "0F23 MOV_DR Dd,Rd",
        "0F30 WRMSR", "0F31 RDTSC", "0F32 RDMSR", "0F33 RDPMC", "0F34 SYSENTER", "0F35 SYSEXIT",
        "0F40-4F CMOVCC Gv,Ev", "0F80-8F JCC Jz", "0F90-9F SETCC Eb",
        "0FA0 PUSH FS", "0FA1 POP FS", "0FA2 CPUID", "0FA3 BT Ev,Gv", "0FA4 SHLD Ev,Gv,Ib",
        "0FA5 SHLD Ev,Gv,CL", "0FA8 PUSH GS", "0FA9 POP GS", "0FAA RSM", "0FAB BTS Ev,Gv lock",
        "0FAC SHRD Ev,Gv,Ib", "0FAD SHRD Ev,Gv,CL", "0FAE/0 FXSAVE M", "0FAE/1 FXRSTOR M",
        "0FAF IMUL_RM Gv,Ev",
        "0FB0 CMPXCHG Eb,Gb lock", "0FB1 CMPXCHG Ev,Gv lock", "0FB2 LSS Gz,Mp", "0FB3 BTR Ev,Gv lock",
        "0FB4 LFS Gz,Mp", "0FB5 LGS Gz,Mp", "0FB6 MOVZX Gv,Eb", "0FB7 MOVZX Gv,Ew", "0FB9 UD2 Gv,Ev",
        "0FBA/4 BT Ev,Ib", "0FBA/5 BTS Ev,Ib lock", "0FBA/6 BTR Ev,Ib lock", "0FBA/7 BTC Ev,Ib lock",
        "0FBB BTC Ev,Gv lock", "0FBC BSF Gv,Ev", "0FBD BSR Gv,Ev", "0FBE MOVSX Gv,Eb", "0FBF MOVSX Gv,Ew",
        "0FC0 XADD Eb,Gb lock", "0FC1 XADD Ev,Gv lock", "0FC7/1 CMPXCHG8B Mq lock",
        "0FC8-CF BSWAP Zd", "0FFF UD2",
    };

    static {
        // Group-less ALU block: 00-3D in eight rows of six forms (ADD, OR, ADC, SBB, AND, SUB, XOR, CMP).
        for (int op = 0; op < 8; op++) {
            Mnemonic m = Mnemonic.values()[Mnemonic.ADD.ordinal() + op];
            boolean lock = m != Mnemonic.CMP;
            int base = op * 8;
            put(ONE_BYTE, base, -1, m, "Eb,Gb", lock);
            put(ONE_BYTE, base + 1, -1, m, "Ev,Gv", lock);
            put(ONE_BYTE, base + 2, -1, m, "Gb,Eb", false);
            put(ONE_BYTE, base + 3, -1, m, "Gv,Ev", false);
            put(ONE_BYTE, base + 4, -1, m, "AL,Ib", false);
            put(ONE_BYTE, base + 5, -1, m, "eAX,Iz", false);
            // Group 1 (80-83) and group 2 (C0, C1, D0-D3).
            put(ONE_BYTE, 0x80, op, m, "Eb,Ib", lock);
            put(ONE_BYTE, 0x81, op, m, "Ev,Iz", lock);
            put(ONE_BYTE, 0x82, op, m, "Eb,Ib", lock);
            put(ONE_BYTE, 0x83, op, m, "Ev,Ibs", lock);
            Mnemonic s = Mnemonic.values()[Mnemonic.ROL.ordinal() + op];
            put(ONE_BYTE, 0xC0, op, s, "Eb,Ib", false);
            put(ONE_BYTE, 0xC1, op, s, "Ev,Ib", false);
            put(ONE_BYTE, 0xD0, op, s, "Eb,ONE", false);
            put(ONE_BYTE, 0xD1, op, s, "Ev,ONE", false);
            put(ONE_BYTE, 0xD2, op, s, "Eb,CL", false);
            put(ONE_BYTE, 0xD3, op, s, "Ev,CL", false);
        }
        for (String row : ROWS) {
            parse(row);
        }
        for (int op = 0xD8; op <= 0xDF; op++) {
            ONE_BYTE[op] = X87;
        }
        X87.modrm = true;
    }

    private OpcodeTable() {
    }

    private static void parse(String row) {
        String[] parts = row.split(" ");
        String code = parts[0];
        Entry[] map = ONE_BYTE;
        if (code.startsWith("0F")) {
            map = TWO_BYTE;
            code = code.substring(2);
        }
        int reg = -1;
        int slash = code.indexOf('/');
        if (slash >= 0) {
            reg = Integer.parseInt(code.substring(slash + 1));
            code = code.substring(0, slash);
        }
        int first;
        int last;
        int dash = code.indexOf('-');
        if (dash >= 0) {
            first = Integer.parseInt(code.substring(0, dash), 16);
            last = (first & 0xF0) | Integer.parseInt(code.substring(dash + 1), 16) & 0xF;
        } else {
            first = Integer.parseInt(code, 16);
            last = first;
        }
        Mnemonic m = Mnemonic.valueOf(parts[1]);
        String ops = parts.length > 2 && !parts[2].equals("lock") ? parts[2] : "";
        boolean lock = row.endsWith(" lock");
        for (int op = first; op <= last; op++) {
            put(map, op, reg, m, ops, lock);
        }
    }

    private static void put(Entry[] map, int opcode, int reg, Mnemonic m, String ops, boolean lock) {
        List<Operand> list = new ArrayList<>();
        if (!ops.isEmpty()) {
            for (String o : ops.split(",")) {
                list.add(Operand.valueOf(o));
            }
        }
        Entry e = new Entry(m, list.toArray(new Operand[0]), lock);
        if (reg < 0) {
            if (map[opcode] != null) {
                throw new IllegalStateException(String.format("opcode %02x defined twice", opcode));
            }
            map[opcode] = e;
            return;
        }
        Entry g = map[opcode];
        if (g == null) {
            g = new Entry(Mnemonic.INVALID, new Operand[0], false);
            g.group = new Entry[8];
            g.modrm = true;
            map[opcode] = g;
        }
        g.group[reg] = e;
    }
}
