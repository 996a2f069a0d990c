/**
 * PCI as a plug-in surface (a proposal for the API): PCI device bundles attach their functions to
 * the PCI bus of a VM, behind the one host bridge that the {@code pci} device model provides.
 *
 * <h2>How a device finds its VM's bus</h2>
 * The bus of a VM is a per-VM service ({@link org.polyvisor.pci.PciBus}, through
 * {@code DeviceContext.vmService}/{@code provideVmService}). A PCI device calls
 * {@link org.polyvisor.pci.PciBuses#attach} with its context, which finds the bus or creates and
 * offers it: whichever comes first, the host bridge or a function. So bundles may start in any
 * order, and a VM whose parts are rebuilt in another order (after a bundle refresh) still ends up
 * with every function behind its bridge. A function attached while no bridge is present is simply
 * not reachable by configuration cycles until the bridge comes (as a card in a board whose chipset
 * is being replaced); its interrupt level is kept and re-driven when the bridge binds.
 *
 * <p>The platform withdraws a part's services when the part closes; when the part that offered
 * the bus goes while others still use it, the offer passes to one of them. The bus disappears with
 * its last user. Nothing is kept per runtime (no static registry).
 *
 * <h2>Division of labour</h2>
 * A function owns its configuration header (use {@link org.polyvisor.pci.PciConfigSpace}) and maps
 * its own BARs on its own {@code DeviceContext.mmio()}/{@code ports()}, so its complete PCI state
 * is part of its own saved state and survives a swap of either side. The bridge owns the
 * configuration mechanism, the host bridge function 00:00.0, and INTx: it answers Interrupt Line and
 * Interrupt Pin (0x3C/0x3D) itself, playing the firmware's part, and routes each function's INTx
 * level to a GSI.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package org.polyvisor.pci;
