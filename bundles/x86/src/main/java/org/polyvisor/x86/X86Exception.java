package org.polyvisor.x86;

/**
 * A guest-architectural exception raised while executing an instruction (#GP, #PF, #UD ...): the
 * guest's business, delivered through its IVT or IDT, never a host error. Thrown without a stack
 * trace, since it is control flow.
 */
public final class X86Exception extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int vector;
    private final int errorCode;
    private final boolean hasErrorCode;
    private final long faultAddress;

    /**
     * Creates an exception.
     *
     * @param vector       the exception vector 0..31
     * @param errorCode    the error code (ignored unless {@code hasErrorCode})
     * @param hasErrorCode whether delivery pushes an error code
     * @param faultAddress the linear address for #PF (goes to CR2), otherwise 0
     */
    public X86Exception(int vector, int errorCode, boolean hasErrorCode, long faultAddress) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.hasErrorCode = hasErrorCode;
        this.faultAddress = faultAddress;
    }

    /**
     * Creates an exception with the error-code convention of its vector (see {@link ExceptionVectors}).
     *
     * @param vector    the vector
     * @param errorCode the error code, used only if the vector has one
     * @return the exception
     */
    public static X86Exception of(int vector, int errorCode) {
        return new X86Exception(vector, errorCode, ExceptionVectors.hasErrorCode(vector), 0);
    }

    /** @return #DE, divide error */
    public static X86Exception divideError() {
        return new X86Exception(ExceptionVectors.DE, 0, false, 0);
    }

    /** @return #UD, invalid opcode */
    public static X86Exception invalidOpcode() {
        return new X86Exception(ExceptionVectors.UD, 0, false, 0);
    }

    /** @return #NM, device not available */
    public static X86Exception deviceNotAvailable() {
        return new X86Exception(ExceptionVectors.NM, 0, false, 0);
    }

    /**
     * @param errorCode selector error code (or 0)
     * @return #GP with the error code
     */
    public static X86Exception generalProtection(int errorCode) {
        return new X86Exception(ExceptionVectors.GP, errorCode, true, 0);
    }

    /**
     * @param errorCode selector error code (or 0)
     * @return #SS with the error code
     */
    public static X86Exception stackFault(int errorCode) {
        return new X86Exception(ExceptionVectors.SS, errorCode, true, 0);
    }

    /**
     * @param errorCode selector error code
     * @return #NP with the error code
     */
    public static X86Exception notPresent(int errorCode) {
        return new X86Exception(ExceptionVectors.NP, errorCode, true, 0);
    }

    /**
     * @param errorCode selector error code
     * @return #TS with the error code
     */
    public static X86Exception invalidTss(int errorCode) {
        return new X86Exception(ExceptionVectors.TS, errorCode, true, 0);
    }

    /**
     * @param linear    the faulting linear address
     * @param errorCode the #PF error code
     * @return #PF
     */
    public static X86Exception pageFault(long linear, int errorCode) {
        return new X86Exception(ExceptionVectors.PF, errorCode, true, linear);
    }

    /** @return the vector */
    public int vector() {
        return vector;
    }

    /** @return the error code (meaningful if {@link #hasErrorCode()}) */
    public int errorCode() {
        return errorCode;
    }

    /** @return whether delivery pushes an error code */
    public boolean hasErrorCode() {
        return hasErrorCode;
    }

    /** @return the #PF linear address, 0 for other vectors */
    public long faultAddress() {
        return faultAddress;
    }

    @Override
    public String getMessage() {
        String name = ExceptionVectors.mnemonic(vector);
        if (vector == ExceptionVectors.PF) {
            return String.format("%s(%x) at %08x", name, errorCode, faultAddress);
        }
        return hasErrorCode ? String.format("%s(%x)", name, errorCode) : name;
    }
}
