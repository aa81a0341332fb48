package dev.migrationd.protocol.synth;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.Width;
import java.util.Objects;

/**
 * What {@link StreamSynth} writes.
 *
 * @param guest          PV or HVM
 * @param toolstackWidth W: the legacy stream's {@code unsigned long} (ignored for v2)
 * @param guestWidth     GW of a PV guest (HVM guests: ignored, reported as 64)
 * @param pages          guest PFNs (p2m_size); every PFN carries a page except an HVM guest's VGA hole
 * @param seed           page contents and dirty sets derive from it: same options, same bytes
 * @param checkpoints    1 = an ordinary save; K ≥ 2 = a Remus stream of K checkpoints
 * @param compress       legacy Remus checkpoint compression (checkpoints ≥ 2, legacy only)
 * @param format         legacy, v2 libxc or v2 libxl
 * @param vcpus          vCPUs, all online, 1..{@value #MAX_VCPUS}
 */
public record SynthOptions(GuestType guest, Width toolstackWidth, Width guestWidth, long pages, long seed,
        int checkpoints, boolean compress, Format format, int vcpus) {

    /** Output format. */
    public enum Format {
        /** Legacy (Xen 4.0–4.5) libxc stream, with the libxl QEMU record for HVM. */
        LEGACY,
        /** Native v2 libxc stream (HVM: no device-model state, as libxc alone saves it). */
        V2_LIBXC,
        /** Native v2 libxl stream wrapping the libxc stream (HVM: EMULATOR_CONTEXT). */
        V2_LIBXL
    }

    public static final int MAX_VCPUS = 32;
    public static final int MAX_CHECKPOINTS = 64;
    /** Fewest pages for a PV guest: page tables, start_info, p2m frames and some data. */
    public static final long MIN_PV_PAGES = 16;
    /** Fewest pages for an HVM guest: four magic pages and some data. */
    public static final long MIN_HVM_PAGES = 8;
    /** Largest guest (p2m_size must fit the legacy 28-bit PFN field). */
    public static final long MAX_PAGES = StreamLimits.MAX_P2M_SIZE - 1;

    public SynthOptions {
        Objects.requireNonNull(guest, "guest");
        Objects.requireNonNull(toolstackWidth, "toolstackWidth");
        Objects.requireNonNull(guestWidth, "guestWidth");
        Objects.requireNonNull(format, "format");
        long min = guest == GuestType.PV ? MIN_PV_PAGES : MIN_HVM_PAGES;
        if (pages < min || pages > MAX_PAGES) {
            throw new IllegalArgumentException("pages must be in " + min + ".." + MAX_PAGES + " for a "
                    + guest.name().toLowerCase(java.util.Locale.ROOT) + " guest, not " + pages);
        }
        if (checkpoints < 1 || checkpoints > MAX_CHECKPOINTS) {
            throw new IllegalArgumentException("checkpoints must be in 1.." + MAX_CHECKPOINTS + ", not " + checkpoints);
        }
        if (compress && checkpoints < 2) {
            throw new IllegalArgumentException("compression needs 2 or more checkpoints (only later ones are compressed)");
        }
        if (compress && format != Format.LEGACY) {
            throw new IllegalArgumentException("compression is a legacy Remus feature; v2 has none");
        }
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus must be in 1.." + MAX_VCPUS + ", not " + vcpus);
        }
    }

    /** Defaults: 64-bit everything, seed 1, one checkpoint, legacy, 2 vCPUs. */
    public static SynthOptions of(GuestType guest, long pages) {
        return new SynthOptions(guest, Width.W64, Width.W64, pages, 1, 1, false, Format.LEGACY, 2);
    }

    public SynthOptions withFormat(Format f) {
        return new SynthOptions(guest, toolstackWidth, guestWidth, pages, seed, checkpoints, compress, f, vcpus);
    }

    public SynthOptions withWidths(Width toolstack, Width guestW) {
        return new SynthOptions(guest, toolstack, guestW, pages, seed, checkpoints, compress, format, vcpus);
    }

    public SynthOptions withSeed(long s) {
        return new SynthOptions(guest, toolstackWidth, guestWidth, pages, s, checkpoints, compress, format, vcpus);
    }

    public SynthOptions withCheckpoints(int k, boolean compressed) {
        return new SynthOptions(guest, toolstackWidth, guestWidth, pages, seed, k, compressed, format, vcpus);
    }
}
