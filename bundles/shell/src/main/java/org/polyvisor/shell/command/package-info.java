/**
 * Karaf shell commands in scope {@code vm}: define, start, observe and change VMs, and list the
 * parts they are built from. Every command talks to the platform through
 * {@link org.polyvisor.vm.VmManager} only.
 */
package org.polyvisor.shell.command;
