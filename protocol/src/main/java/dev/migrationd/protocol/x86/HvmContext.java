package dev.migrationd.protocol.x86;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The HVM context blob of a legacy HVM tail and of a v2 {@code HVM_CONTEXT} record (docs/wire-format-legacy.md
 * §10): what {@code XEN_DOMCTL_gethvmcontext} returns. A sequence of records, no padding between them:
 *
 * <pre>
 *  u16 typecode | u16 instance | u32 length | u8 body[length]
 * </pre>
 *
 * starting with a HEADER (typecode 1, 24 bytes: u32 magic 0x54381286, u32 version 1, u64 changeset,
 * u32 cpuid, u32 gtsc_khz) and ending with END (8 zero bytes). The smallest valid blob is HEADER + one
 * CPU record per vCPU + END ({@link #resetState(int)}).
 *
 * <p>{@link #parse} validates structure and what Xen's loader would refuse (magic, version, unknown
 * typecodes, fixed lengths, CR0 of CPU records, duplicate instances, END, trailing bytes); every error is
 * a {@link RecordException} naming the record and its stream offset. {@link #framingProblem} is the looser
 * check of a reader that only passes the blob on. Immutable.
 */
public final class HvmContext {
    /** {@code HVM_FILE_MAGIC}. */
    public static final int HVM_FILE_MAGIC = 0x5438_1286;
    /** {@code HVM_FILE_VERSION}. */
    public static final int HVM_FILE_VERSION = 1;
    /** Size of a record descriptor (typecode, instance, length). */
    public static final int DESCRIPTOR_SIZE = 8;
    /** Changeset value meaning "unknown". */
    public static final long CHANGESET_UNKNOWN = -1L;
    /** Item name used in errors. */
    public static final String ITEM = "HVM_CONTEXT";

    /** The HEADER record body. */
    public record Header(long changeset, int cpuid, int gtscKhz) {
        /** Changeset unknown, CPUID leaf 1 EAX of a family-6 host, guest TSC rate 0 (keep the host's). */
        public static final Header DEFAULT = new Header(CHANGESET_UNKNOWN, 0x000306C3, 0);

        byte[] encode() {
            byte[] b = new byte[HvmSaveType.HEADER.length()];
            MemorySegment s = MemorySegment.ofArray(b);
            Le.putU32(s, 0, HVM_FILE_MAGIC & 0xFFFF_FFFFL);
            Le.putU32(s, 4, HVM_FILE_VERSION);
            Le.putU64(s, 8, changeset);
            Le.putU32(s, 16, Integer.toUnsignedLong(cpuid));
            Le.putU32(s, 20, Integer.toUnsignedLong(gtscKhz));
            return b;
        }
    }

    /** One record other than HEADER and END. {@code body} is copied in and out. */
    public record Entry(HvmSaveType type, int instance, byte[] body) {
        public Entry {
            Objects.requireNonNull(type);
            if (type == HvmSaveType.HEADER || type == HvmSaveType.END) {
                throw new IllegalArgumentException(type + " is framing, not an entry");
            }
            if (instance < 0 || instance > 0xFFFF) {
                throw new IllegalArgumentException("instance must be a u16, not " + instance);
            }
            if (!type.acceptsLength(body.length)) {
                throw new IllegalArgumentException(type + " body must be " + type.describeLengths() + " bytes, not "
                        + body.length);
            }
            body = body.clone();
        }

        @Override
        public byte[] body() {
            return body.clone();
        }

        /** Body length without copying. */
        public int length() {
            return body.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && e.type == type && e.instance == instance && Arrays.equals(e.body, body);
        }

        @Override
        public int hashCode() {
            return (type.hashCode() * 31 + instance) * 31 + Arrays.hashCode(body);
        }

        @Override
        public String toString() {
            return "Entry[" + type + "[" + instance + "], " + body.length + " bytes]";
        }
    }

    private final Header header;
    private final List<Entry> entries;

    private HvmContext(Header header, List<Entry> entries) {
        this.header = Objects.requireNonNull(header);
        this.entries = List.copyOf(entries);
    }

    public static Builder builder(Header header) {
        return new Builder(header);
    }

    /** HEADER ({@link Header#DEFAULT}), one reset-state CPU record per vCPU 0..vcpus-1, END. */
    public static HvmContext resetState(int vcpus) {
        if (vcpus < 1 || vcpus > StreamLimits.XC_SR_MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus must be in 1.." + StreamLimits.XC_SR_MAX_VCPUS);
        }
        Builder b = builder(Header.DEFAULT);
        byte[] cpu = HvmHwCpu.resetState().toByteArray();
        for (int v = 0; v < vcpus; v++) {
            b.add(HvmSaveType.CPU, v, cpu);
        }
        return b.build();
    }

    public Header header() {
        return header;
    }

    /** The records between HEADER and END, in order. */
    public List<Entry> entries() {
        return entries;
    }

    /**
     * The CPU records, as views over copies of their bodies: 1024-byte records, and the first 1024 bytes of
     * Xen 4.7+'s 1032-byte ones (the same layout, {@code flags} appended); not the pre-3.4 compat form.
     */
    public List<HvmHwCpu> cpus() {
        List<HvmHwCpu> out = new ArrayList<>();
        for (Entry e : entries) {
            if (e.type() == HvmSaveType.CPU && e.length() >= HvmHwCpu.SIZE) {
                out.add(HvmHwCpu.wrap(java.util.Arrays.copyOf(e.body(), HvmHwCpu.SIZE)));
            }
        }
        return out;
    }

    /** Encoded size: descriptors and bodies, HEADER and END included. */
    public int encodedSize() {
        int n = DESCRIPTOR_SIZE + HvmSaveType.HEADER.length() + DESCRIPTOR_SIZE;
        for (Entry e : entries) {
            n += DESCRIPTOR_SIZE + e.length();
        }
        return n;
    }

    /** The blob as Xen's {@code hvm_save()} lays it out. */
    public byte[] encode() {
        byte[] out = new byte[encodedSize()];
        MemorySegment s = MemorySegment.ofArray(out);
        int off = putRecord(s, 0, HvmSaveType.HEADER.code(), 0, header.encode());
        for (Entry e : entries) {
            off = putRecord(s, off, e.type().code(), e.instance(), e.body);
        }
        // END: typecode 0, instance 0, length 0 (already zero)
        return out;
    }

    private static int putRecord(MemorySegment s, int off, int code, int instance, byte[] body) {
        Le.putU16(s, off, code);
        Le.putU16(s, off + 2, instance);
        Le.putU32(s, off + 4, body.length);
        MemorySegment.copy(body, 0, s, ValueLayout.JAVA_BYTE, off + DESCRIPTOR_SIZE, body.length);
        return off + DESCRIPTOR_SIZE + body.length;
    }

    /** {@link #parse(MemorySegment, long)} over a byte array. */
    public static HvmContext parse(byte[] blob, long streamOffset) throws RecordException {
        return parse(MemorySegment.ofArray(blob), streamOffset);
    }

    /**
     * Parses and validates a blob.
     *
     * @param blob         the whole blob ({@code hvm_ctx_len} bytes)
     * @param streamOffset where the blob starts in the stream; error offsets are stream offsets
     * @throws RecordException naming the record ({@code HVM_CONTEXT/<TYPE>}), its typecode and offset
     */
    public static HvmContext parse(MemorySegment blob, long streamOffset) throws RecordException {
        long size = blob.byteSize();
        long off = 0;
        Header header = null;
        List<Entry> entries = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        while (true) {
            if (size - off < DESCRIPTOR_SIZE) {
                throw new RecordException(ITEM, 0, streamOffset + off, size - off == 0
                        ? "blob ends without an END record"
                        : "truncated record descriptor (" + (size - off) + " of 8 bytes left)");
            }
            int code = Le.u16(blob, off);
            int instance = Le.u16(blob, off + 2);
            long length = Le.u32(blob, off + 4);
            long at = streamOffset + off;
            String item = code <= HvmSaveType.MAX_CODE ? ITEM + "/" + HvmSaveType.fromCode(code) : ITEM;
            if (code > HvmSaveType.MAX_CODE) {
                throw new RecordException(item, code, at, "unknown HVM save typecode " + code);
            }
            HvmSaveType type = HvmSaveType.fromCode(code);
            if (length > size - off - DESCRIPTOR_SIZE) {
                throw new RecordException(item, code, at, "record length " + length + " exceeds the "
                        + (size - off - DESCRIPTOR_SIZE) + " bytes left in the blob");
            }
            if (header == null && type != HvmSaveType.HEADER) {
                throw new RecordException(item, code, at, "the blob must start with a HEADER record");
            }
            if (!type.acceptsLength(length)) {
                throw new RecordException(item, code, at, type + " record length " + length + ", expected "
                        + type.describeLengths());
            }
            MemorySegment body = blob.asSlice(off + DESCRIPTOR_SIZE, length);
            long bodyAt = at + DESCRIPTOR_SIZE;
            switch (type) {
                case END -> {
                    if (instance != 0) {
                        throw new RecordException(item, code, at, "END instance " + instance + ", expected 0");
                    }
                    long end = off + DESCRIPTOR_SIZE;
                    if (end != size) {
                        throw new RecordException(item, code, streamOffset + end,
                                (size - end) + " trailing bytes after the END record");
                    }
                    return new HvmContext(header, entries);
                }
                case HEADER -> {
                    if (header != null) {
                        throw new RecordException(item, code, at, "a second HEADER record");
                    }
                    if (instance != 0) {
                        throw new RecordException(item, code, at, "HEADER instance " + instance + ", expected 0");
                    }
                    header = parseHeader(body, item, code, bodyAt);
                }
                default -> {
                    validateBody(type, body, item, code, bodyAt);
                    if (!seen.add(((long) code << 16) | instance)) {
                        throw new RecordException(item, code, at, "duplicate " + type + " record for instance " + instance);
                    }
                    if (type.perVcpu() && instance >= StreamLimits.XC_SR_MAX_VCPUS) {
                        throw new RecordException(item, code, at, "vcpu instance " + instance + " exceeds "
                                + (StreamLimits.XC_SR_MAX_VCPUS - 1));
                    }
                    entries.add(new Entry(type, instance, body.toArray(ValueLayout.JAVA_BYTE)));
                }
            }
            off += DESCRIPTOR_SIZE + length;
        }
    }

    /**
     * The framing check a stream reader applies to a blob it only passes on (the legacy HVM tail): a HEADER
     * record (typecode 1, length 24, magic, version 1) first, then {@code u16 typecode, u16 instance, u32 length,
     * body} records with known typecodes that stay inside the blob, ending with an all-zero END descriptor exactly
     * at its end. Record bodies are not interpreted: that is {@link #parse}'s part, as it is Xen's loader's.
     *
     * @param blob the blob (its remaining bytes; position unchanged)
     * @return null when the blob is well framed, else what is wrong
     */
    public static String framingProblem(ByteBuffer blob) {
        ByteBuffer b = blob.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = b.position();
        int len = b.remaining();
        int d = DESCRIPTOR_SIZE;
        int headerLength = HvmSaveType.HEADER.length();
        if (len < d + headerLength + d) {
            return "blob of " + len + " bytes is shorter than HEADER + END";
        }
        int code = b.getShort(base) & 0xFFFF;
        int rlen = b.getInt(base + 4);
        if (code != HvmSaveType.HEADER.code() || rlen != headerLength) {
            return "first record must be HEADER (typecode 1, length 24), got typecode " + code + " length " + rlen;
        }
        if (b.getInt(base + d) != HVM_FILE_MAGIC) {
            return "HEADER magic 0x" + Integer.toHexString(b.getInt(base + d)) + " is not 0x54381286";
        }
        if (b.getInt(base + d + 4) != HVM_FILE_VERSION) {
            return "HEADER version " + b.getInt(base + d + 4) + " is not 1";
        }
        long off = d + headerLength;
        while (true) {
            if (off + d > len) {
                return "record descriptor at offset " + off + " runs past the end (no END record)";
            }
            code = b.getShort(base + (int) off) & 0xFFFF;
            long l = b.getInt(base + (int) off + 4) & 0xFFFF_FFFFL;
            if (code == HvmSaveType.END.code()) {
                if (l != 0 || b.getShort(base + (int) off + 2) != 0) {
                    return "END descriptor at offset " + off + " is not all zero";
                }
                if (off + d != len) {
                    return (len - off - d) + " bytes after the END descriptor";
                }
                return null;
            }
            if (code > HvmSaveType.MAX_CODE) {
                return "unknown typecode " + code + " at offset " + off;
            }
            if (off + d + l > len) {
                return "record typecode " + code + " at offset " + off + " of length " + l + " runs past the end";
            }
            off += d + l;
        }
    }

    private static Header parseHeader(MemorySegment body, String item, int code, long bodyAt) throws RecordException {
        long magic = Le.u32(body, 0);
        if (magic != (HVM_FILE_MAGIC & 0xFFFF_FFFFL)) {
            throw new RecordException(item, code, bodyAt, "bad magic 0x" + Long.toHexString(magic) + ", expected 0x"
                    + Integer.toHexString(HVM_FILE_MAGIC));
        }
        long version = Le.u32(body, 4);
        if (version != HVM_FILE_VERSION) {
            throw new RecordException(item, code, bodyAt + 4, "unsupported version " + version + ", expected "
                    + HVM_FILE_VERSION);
        }
        return new Header(Le.u64(body, 8), (int) Le.u32(body, 16), (int) Le.u32(body, 20));
    }

    private static void validateBody(HvmSaveType type, MemorySegment body, String item, int code, long bodyAt)
            throws RecordException {
        switch (type) {
            case CPU -> {
                String problem = HvmHwCpu.cr0Problem(Le.u64(body, HvmHwCpu.CR0));
                if (problem != null) {
                    throw new RecordException(item, code, bodyAt + HvmHwCpu.CR0, problem);
                }
            }
            case CPU_MSR -> {
                if (body.byteSize() < 8) {
                    throw new RecordException(item, code, bodyAt, "CPU_MSR record shorter than its 8-byte header");
                }
                long count = Le.u32(body, 0);
                if (body.byteSize() != 8 + 16 * count) {
                    throw new RecordException(item, code, bodyAt, "CPU_MSR count " + count + " needs "
                            + (8 + 16 * count) + " bytes, record has " + body.byteSize());
                }
            }
            case CPU_XSAVE -> {
                if (body.byteSize() < 24) {
                    throw new RecordException(item, code, bodyAt, "CPU_XSAVE record shorter than its 24-byte header");
                }
            }
            default -> {
                // fixed-length device records: the length check is all a structural parser can do
            }
        }
    }

    /** Incremental construction; HEADER and END are added by {@link #build()}. Single-threaded. */
    public static final class Builder {
        private final Header header;
        private final List<Entry> entries = new ArrayList<>();

        private Builder(Header header) {
            this.header = Objects.requireNonNull(header);
        }

        public Builder add(HvmSaveType type, int instance, byte[] body) {
            entries.add(new Entry(type, instance, body));
            return this;
        }

        public Builder addCpu(int vcpu, HvmHwCpu cpu) {
            return add(HvmSaveType.CPU, vcpu, cpu.toByteArray());
        }

        public HvmContext build() {
            return new HvmContext(header, entries);
        }
    }
}
