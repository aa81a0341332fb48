package dev.migrationd.protocol;

/** The two x86 guest types the streams carry. */
public enum GuestType {
    /** Paravirtualised guest: p2m frame list, typed page tables, PV tail. */
    PV,
    /** Hardware virtual machine: identity p2m, magic PFNs, HVM context, QEMU record. */
    HVM
}
