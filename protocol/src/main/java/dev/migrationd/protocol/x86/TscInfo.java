package dev.migrationd.protocol.x86;

/**
 * A domain's TSC state, as {@code xc_domain_get_tsc_info} returns it and {@code xc_domain_set_tsc_info} takes it.
 * The one value behind the legacy {@code XC_SAVE_ID_TSC_INFO} chunk and the v2 {@code X86_TSC_INFO} record (which
 * lay the fields out in different orders on the wire) and behind the hypervisor's TSC accessors. The u32 fields are
 * carried bit for bit in Java ints.
 *
 * @param mode        {@code tsc_mode}
 * @param nsec        {@code elapsed_nsec}
 * @param khz         {@code gtsc_khz}, the guest's TSC frequency
 * @param incarnation {@code incarnation}, counting the domain's saves and restores
 */
public record TscInfo(int mode, long nsec, int khz, int incarnation) {
}
