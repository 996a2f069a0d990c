package org.polyvisor.kvm;

import java.util.Objects;

/**
 * The system registers ({@code struct kvm_sregs}).
 *
 * @param cs              CS
 * @param ds              DS
 * @param es              ES
 * @param fs              FS
 * @param gs              GS
 * @param ss              SS
 * @param tr              TR
 * @param ldt             LDTR
 * @param gdt             GDTR
 * @param idt             IDTR
 * @param cr0             CR0
 * @param cr2             CR2
 * @param cr3             CR3
 * @param cr4             CR4
 * @param cr8             CR8
 * @param efer            EFER
 * @param apicBase        IA32_APIC_BASE
 * @param interruptBitmap the 256-bit bitmap of an injected but undelivered interrupt (4 longs)
 */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr, Segment ldt,
                    Dtable gdt, Dtable idt, long cr0, long cr2, long cr3, long cr4, long cr8, long efer,
                    long apicBase, long[] interruptBitmap) {

    /** Validates and copies. */
    public Sregs {
        Objects.requireNonNull(interruptBitmap, "interruptBitmap");
        if (interruptBitmap.length != 4) {
            throw new IllegalArgumentException("interrupt bitmap needs 4 longs");
        }
        interruptBitmap = interruptBitmap.clone();
    }

    /** @return a copy of the interrupt bitmap */
    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    /**
     * Returns these registers set up for a flat-model guest entered directly in protected or long
     * mode: one data segment in DS, ES, FS, GS and SS, an unusable LDT, CR2 and CR8 zero, nothing
     * pending; the APIC base stays.
     *
     * @param code CS
     * @param data every data segment
     * @param task TR
     * @param gdt  GDTR
     * @param idt  IDTR
     * @param cr0  CR0
     * @param cr3  CR3
     * @param cr4  CR4
     * @param efer EFER
     * @return the registers
     */
    public Sregs flat(Segment code, Segment data, Segment task, Dtable gdt, Dtable idt, long cr0, long cr3, long cr4,
                      long efer) {
        Segment noLdt = Segment.fromAccessRights(0, 0, 0, 0x1_0000); // unusable
        return new Sregs(code, data, data, data, data, data, task, noLdt, gdt, idt, cr0, 0, cr3, cr4, 0, efer, apicBase,
                new long[4]);
    }

    /**
     * Returns the segment registers ES, CS, SS, DS, FS, GS in x86 encoding order.
     *
     * @return six segments
     */
    public Segment[] segmentsInEncodingOrder() {
        return new Segment[] {es, cs, ss, ds, fs, gs};
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sregs r && cs.equals(r.cs) && ds.equals(r.ds) && es.equals(r.es) && fs.equals(r.fs)
                && gs.equals(r.gs) && ss.equals(r.ss) && tr.equals(r.tr) && ldt.equals(r.ldt) && gdt.equals(r.gdt)
                && idt.equals(r.idt) && cr0 == r.cr0 && cr2 == r.cr2 && cr3 == r.cr3 && cr4 == r.cr4 && cr8 == r.cr8
                && efer == r.efer && apicBase == r.apicBase
                && java.util.Arrays.equals(interruptBitmap, r.interruptBitmap);
    }

    @Override
    public int hashCode() {
        return Objects.hash(cs, ss, cr0, cr3, efer);
    }
}
