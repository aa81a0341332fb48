package dev.migrationd.hypervisor.sim;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * What a sim guest's vCPUs do: dirty {@code rateBytesPerSec} bytes per second (counted in whole 4 KiB
 * pages, as a dirty log counts them) over the first {@code workingSet} fraction of the guest's data
 * pages. The spec is stored in the guest's own memory (the descriptor page, {@link SimLayout#DESCRIPTOR_PFN})
 * like a program, so a domain restored elsewhere from a stream runs the same workload.
 *
 * @param rateBytesPerSec bytes dirtied per second; {@code 0} = idle, {@link #UNTHROTTLED} = as fast as the vCPUs go
 * @param workingSet      fraction (0, 1] of the data pages written
 * @param skew            {@code random} only: probability [0, 1] that a write hits the hot set (the first
 *                        {@link #HOT_FRACTION} of the working set); 0 = uniform
 * @param pattern         how pages are chosen
 */
public record WorkloadSpec(long rateBytesPerSec, double workingSet, double skew, Pattern pattern) {

    /** Rate value meaning "no limit". */
    public static final long UNTHROTTLED = -1;
    /** Share of the working set that is hot under skew. */
    public static final double HOT_FRACTION = 0.1;
    /** An idle guest. */
    public static final WorkloadSpec IDLE = new WorkloadSpec(0, 1.0, 0, Pattern.RANDOM);

    static final long MAGIC = 0x31574B4C444D4953L; // "SIMDLKW1" little-endian
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** How a workload picks the pages it writes. */
    public enum Pattern {
        /** Uniform (or skewed) random pages of the working set; 8 bytes per write. */
        RANDOM,
        /** The working set in order, each vCPU over its own slice; 8 bytes per write. */
        SEQUENTIAL,
        /**
         * Increments byte 0 of every working-set page in turn (vCPU 0 only), like QEMU's migration-test
         * guest: memory then holds value k+1 up to the cursor and k after it, one break at most. (Written
         * idempotently, so a step redone after a crash of the daemon does not break the sequence.)
         */
        AB;

        public static Pattern parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown workload pattern '" + s + "' (random, sequential, ab)");
            }
        }
    }

    public WorkloadSpec {
        if (pattern == null) {
            throw new IllegalArgumentException("pattern must be given");
        }
        if (rateBytesPerSec < 0 && rateBytesPerSec != UNTHROTTLED) {
            throw new IllegalArgumentException("dirty rate must be >= 0 bytes/s or unthrottled, not " + rateBytesPerSec);
        }
        if (!(workingSet > 0 && workingSet <= 1)) {
            throw new IllegalArgumentException("working set must be a fraction in (0, 1], not " + workingSet);
        }
        if (!(skew >= 0 && skew <= 1)) {
            throw new IllegalArgumentException("skew must be in [0, 1], not " + skew);
        }
    }

    public static WorkloadSpec of(long rateBytesPerSec, double workingSet, double skew, Pattern pattern) {
        return new WorkloadSpec(rateBytesPerSec, workingSet, skew, pattern);
    }

    /**
     * Parses the text form used on command lines and in configs:
     * {@code rate=64MiB,ws=0.25,skew=0.8,pattern=random}. {@code rate} takes bytes with an optional
     * K/M/G (KiB/MiB/GiB, powers of 1024) suffix per second, {@code 0} or {@code idle}, or
     * {@code unthrottled}; omitted keys default to rate=0, ws=1, skew=0, pattern=random.
     *
     * @throws IllegalArgumentException naming the bad key or value
     */
    public static WorkloadSpec parse(String text) {
        long rate = 0;
        double ws = 1.0;
        double skew = 0;
        Pattern pattern = Pattern.RANDOM;
        if (text == null || text.isBlank()) {
            return IDLE;
        }
        for (String part : text.split(",")) {
            String[] kv = part.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("workload item '" + part.trim() + "' is not key=value");
            }
            String key = kv[0].trim().toLowerCase(Locale.ROOT);
            String value = kv[1].trim();
            try {
                switch (key) {
                    case "rate" -> rate = parseRate(value);
                    case "ws", "workingset", "working-set" -> ws = Double.parseDouble(value);
                    case "skew" -> skew = Double.parseDouble(value);
                    case "pattern" -> pattern = Pattern.parse(value);
                    default -> throw new IllegalArgumentException("unknown workload key '" + key
                            + "' (rate, ws, skew, pattern)");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("workload " + key + " '" + value + "' is not a number");
            }
        }
        return new WorkloadSpec(rate, ws, skew, pattern);
    }

    private static long parseRate(String v) {
        String s = v.toLowerCase(Locale.ROOT);
        if (s.equals("unthrottled") || s.equals("max")) {
            return UNTHROTTLED;
        }
        if (s.equals("idle")) {
            return 0;
        }
        return parseBytes(s);
    }

    /** Parses a byte count with an optional K/M/G/T suffix (powers of 1024; "MiB", "M", "MB" all mean 2^20). */
    public static long parseBytes(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                case 't' -> shift = 40;
                default -> shift = 0;
            }
        }
        String digits = shift == 0 ? s : s.substring(0, s.length() - 1);
        long n = Long.parseLong(digits.trim());
        if (n < 0 || n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("byte count out of range: " + text);
        }
        return n << shift;
    }

    public boolean idle() {
        return rateBytesPerSec == 0;
    }

    public boolean unthrottled() {
        return rateBytesPerSec == UNTHROTTLED;
    }

    /** Pages in the working set of a guest with {@code dataPages} data pages (at least 1). */
    long workingSetPages(long dataPages) {
        return Math.max(1, Math.min(dataPages, (long) Math.ceil(dataPages * workingSet)));
    }

    /** Writes this spec into the descriptor page. */
    void writeTo(MemorySegment page) {
        page.fill((byte) 0);
        page.set(LONG, 0, MAGIC);
        page.set(INT, 8, 1);
        page.set(INT, 12, pattern.ordinal());
        page.set(LONG, 16, rateBytesPerSec);
        page.set(LONG, 24, Double.doubleToRawLongBits(workingSet));
        page.set(LONG, 32, Double.doubleToRawLongBits(skew));
    }

    /**
     * Reads the spec from a descriptor page; guest memory is untrusted, so a page without the magic or
     * with bad values gives an idle workload, never an exception in the vCPU.
     */
    static WorkloadSpec readFrom(MemorySegment page) {
        if (page.get(LONG, 0) != MAGIC || page.get(INT, 8) != 1) {
            return IDLE;
        }
        int p = page.get(INT, 12);
        if (p < 0 || p >= Pattern.values().length) {
            return IDLE;
        }
        try {
            return new WorkloadSpec(page.get(LONG, 16), Double.longBitsToDouble(page.get(LONG, 24)),
                    Double.longBitsToDouble(page.get(LONG, 32)), Pattern.values()[p]);
        } catch (IllegalArgumentException e) {
            return IDLE;
        }
    }

    /** Text form for metadata and logs: {@code rate=..,ws=..,skew=..,pattern=..}. */
    @Override
    public String toString() {
        return "rate=" + (unthrottled() ? "unthrottled" : Long.toString(rateBytesPerSec)) + ",ws=" + workingSet
                + ",skew=" + skew + ",pattern=" + pattern.name().toLowerCase(Locale.ROOT);
    }
}
