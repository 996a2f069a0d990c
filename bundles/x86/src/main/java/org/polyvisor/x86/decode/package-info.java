/**
 * The table-driven x86 instruction decoder (one- and two-byte opcode maps of the i686, written in
 * the Intel SDM operand notation) and its compact decoded form, shared by the interpreter and the
 * binary translator.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.x86.decode;
