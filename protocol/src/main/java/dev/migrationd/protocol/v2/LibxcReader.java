package dev.migrationd.protocol.v2;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamFatalException;
import dev.migrationd.protocol.StreamLimits;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Incremental, push-based reader of a libxc v2 stream (docs/wire-format-v2.md §2). Feed it buffers split
 * anywhere ({@link #feed}); it returns the items completed by that call, then {@link #finish()} at
 * the end of input. One byte at a time yields the same items as one buffer.
 *
 * <p>Every length is checked against {@link StreamLimits} and the record's own rules before it sizes
 * an allocation; a body split across buffers is gathered in a buffer that grows only as data arrives.
 * Items are views: a record wholly inside one fed buffer refers to that buffer's memory, so the caller
 * keeps a fed buffer's content unchanged while it uses the items (the reader itself never writes to it).
 *
 * <p>Unknown optional records (type bit 31) are skipped as they stream past, without being gathered
 * ({@link #skippedOptionalRecords()}); an unknown mandatory type is fatal.
 *
 * <p>After END the reader consumes nothing more: the bytes after END stay in the fed buffer (e.g. the
 * raw QEMU record {@code convert-legacy-stream -f libxc} appends). After the first error every later
 * call throws that error again. A stream may also end right after a CHECKPOINT record (Remus failover).
 *
 * <p>Not thread-safe: one thread (the migration's receiver) owns a reader.
 */
public final class LibxcReader {
    private enum State {
        IMAGE_HEADER, DOMAIN_HEADER, RECORD_HEADER, BODY, PD_HEAD, PD_PFNS, PD_PAGES, SKIP, PAUSED, DONE, FAILED
    }

    /**
     * Receives PAGE_DATA pages one at a time as each completes, so a receiver copies straight from the fed buffer
     * into guest memory even when records straddle feeds (a page split across feeds is gathered in a 4 KiB buffer).
     * With a listener, each PAGE_DATA item carries its entries only ({@link PageData#pagesStreamed()}) and is
     * delivered to the item consumer before its pages.
     */
    @FunctionalInterface
    public interface PageListener {
        /**
         * @param record     the record the page belongs to (delivered just before)
         * @param entryIndex index of the page's entry in the record
         * @param page       a read-only little-endian 4096-byte view, valid only during this call
         */
        void page(PageData record, int entryIndex, ByteBuffer page);
    }

    /** Item name used in errors about a record header whose type is unknown. */
    public static final String UNKNOWN = "UNKNOWN_RECORD";

    private final StreamLimits limits;
    private final boolean pauseAtCheckpoint;
    /** Item consumer (callback mode) or null (items returned by feed). */
    private final java.util.function.Consumer<? super LibxcItem> items;
    private final PageListener pages;
    private int pdCount;
    private PageData pd;
    private int pdEntry;
    private int pdLeft;
    private final Assembler asm = new Assembler();
    private State state = State.IMAGE_HEADER;
    private long offset;
    private long itemStart;
    private RecordType recType;
    private long rawType;
    private int bodyLen;
    private int version;
    private GuestType guest;
    private boolean staticDataEnd;
    private RecordType last;
    private StreamException failure;
    private long skipRemaining;
    private int skipped;

    public LibxcReader(StreamLimits limits) {
        this(limits, null, null, 0, false);
    }

    /**
     * A reader in callback mode: every item goes to {@code items} in stream order, synchronously inside
     * {@link #feed} (which then returns an empty list); with {@code pages} non-null, PAGE_DATA pages are streamed
     * to it (see {@link PageListener}). An exception thrown by a callback leaves the reader unusable.
     */
    public LibxcReader(StreamLimits limits, java.util.function.Consumer<? super LibxcItem> items, PageListener pages) {
        this(limits, java.util.Objects.requireNonNull(items, "items"), pages, 0, false);
    }

    /**
     * @param baseOffset        stream offset of the first byte (for error messages of an embedded stream)
     * @param pauseAtCheckpoint stop after each CHECKPOINT until {@link #resume()} (the libxl layer reads its
     *                          checkpoint records in between)
     */
    LibxcReader(StreamLimits limits, java.util.function.Consumer<? super LibxcItem> items, PageListener pages,
            long baseOffset, boolean pauseAtCheckpoint) {
        this.limits = limits;
        this.items = items;
        this.pages = pages;
        this.offset = baseOffset;
        this.pauseAtCheckpoint = pauseAtCheckpoint;
        this.itemStart = baseOffset;
        asm.start(V2Format.IHDR_SIZE);
    }

    /** Consumes what it can of {@code in} and returns the items completed. */
    public List<LibxcItem> feed(ByteBuffer in) throws StreamException {
        if (state == State.FAILED) {
            throw failure;
        }
        List<LibxcItem> out = new ArrayList<>(2);
        try {
            while (state != State.DONE && state != State.PAUSED) {
                if (state == State.SKIP) {
                    int n = (int) Math.min(in.remaining(), skipRemaining);
                    in.position(in.position() + n);
                    offset += n;
                    skipRemaining -= n;
                    if (skipRemaining > 0) {
                        break;
                    }
                    skipped++;
                    next(State.RECORD_HEADER, V2Format.RH_SIZE);
                    continue;
                }
                if (state == State.BODY && asm.need() == 0) {
                    completeRecord(ByteBuffer.allocate(0), out);
                    continue;
                }
                if (!in.hasRemaining()) {
                    break;
                }
                int before = in.position();
                ByteBuffer span = asm.offer(in);
                offset += in.position() - before;
                if (span == null) {
                    break;
                }
                switch (state) {
                    case IMAGE_HEADER -> {
                        ImageHeader h = ImageHeader.read(span, itemStart);
                        version = h.version();
                        emit(h, out);
                        next(State.DOMAIN_HEADER, V2Format.DHDR_SIZE);
                    }
                    case DOMAIN_HEADER -> {
                        DomainHeader h = DomainHeader.read(span, itemStart);
                        guest = h.guestType();
                        emit(h, out);
                        next(State.RECORD_HEADER, V2Format.RH_SIZE);
                    }
                    case RECORD_HEADER -> recordHeader(span);
                    case BODY -> completeRecord(span, out);
                    case PD_HEAD -> {
                        pdCount = PageData.readCount(span, bodyLen, itemStart, limits);
                        state = State.PD_PFNS;
                        asm.start(8 * pdCount);
                    }
                    case PD_PFNS -> {
                        pd = PageData.streamed(PageData.readEntries(span, 0, pdCount, bodyLen, itemStart, limits));
                        emit(pd, out);
                        pdLeft = pd.dataPageCount();
                        pdEntry = -1;
                        if (pdLeft == 0) {
                            afterRecord(RecordType.PAGE_DATA);
                        } else {
                            nextDataEntry();
                            state = State.PD_PAGES;
                            asm.start(V2Format.PAGE_SIZE);
                        }
                    }
                    case PD_PAGES -> {
                        PageData record = pd;
                        int entry = pdEntry;
                        if (--pdLeft == 0) {
                            afterRecord(RecordType.PAGE_DATA);
                        } else {
                            nextDataEntry();
                            asm.start(V2Format.PAGE_SIZE);
                        }
                        pages.page(record, entry, span.asReadOnlyBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN));
                    }
                    default -> throw new IllegalStateException(state.name());
                }
            }
        } catch (StreamException e) {
            state = State.FAILED;
            failure = e;
            throw e;
        }
        return out;
    }

    /** Declares the end of input; throws if the stream stopped anywhere but after END (or a CHECKPOINT). */
    public void finish() throws StreamException {
        if (state == State.FAILED) {
            throw failure;
        }
        if (state == State.DONE || state == State.PAUSED) {
            return;
        }
        if (state == State.RECORD_HEADER && asm.have() == 0 && last == RecordType.CHECKPOINT) {
            return;
        }
        String item = switch (state) {
            case IMAGE_HEADER -> ImageHeader.ITEM;
            case DOMAIN_HEADER -> DomainHeader.ITEM;
            case RECORD_HEADER -> "RECORD_HEADER";
            case SKIP -> UNKNOWN;
            default -> recType == null ? UNKNOWN : recType.name();
        };
        long code = state == State.BODY || state == State.SKIP ? rawType : 0;
        if (state == State.PD_HEAD || state == State.PD_PFNS || state == State.PD_PAGES) {
            long missing = itemStart + V2Format.RH_SIZE + bodyLen - offset;
            StreamFatalException e = new StreamFatalException(RecordType.PAGE_DATA.name(), RecordType.PAGE_DATA.code(),
                    itemStart, "stream truncated inside the record, " + missing + " of " + bodyLen
                    + " body bytes missing");
            state = State.FAILED;
            failure = e;
            throw e;
        }
        if (state == State.SKIP) {
            StreamFatalException e = new StreamFatalException(item, code, itemStart, "stream truncated inside an "
                    + "optional record, " + skipRemaining + " bytes missing");
            state = State.FAILED;
            failure = e;
            throw e;
        }
        StreamFatalException e = new StreamFatalException(item, code, itemStart, "stream truncated after "
                + asm.have() + " of " + asm.need() + " bytes" + (state == State.BODY ? " of the body and padding" : "")
                + (state == State.RECORD_HEADER ? " (no END record)" : ""));
        state = State.FAILED;
        failure = e;
        throw e;
    }

    /** Unknown optional records (type bit 31) skipped so far. */
    public int skippedOptionalRecords() {
        return skipped;
    }

    /** Whether END has been read. */
    public boolean isDone() {
        return state == State.DONE;
    }

    /** Whether the reader stopped after a CHECKPOINT (only when embedded in a libxl stream). */
    boolean isPaused() {
        return state == State.PAUSED;
    }

    /** Continues after a CHECKPOINT pause. */
    void resume() {
        if (state != State.PAUSED) {
            throw new IllegalStateException("not paused");
        }
        state = State.RECORD_HEADER;
    }

    /** Stream offset of the next byte the reader will consume. */
    public long offset() {
        return offset;
    }

    /** The guest type from the domain header, or null before it. */
    public GuestType guestType() {
        return guest;
    }

    private void next(State s, int need) {
        state = s;
        itemStart = offset;
        asm.start(need);
    }

    private void recordHeader(ByteBuffer h) throws StreamException {
        long type = Integer.toUnsignedLong(h.getInt(0));
        long len = Integer.toUnsignedLong(h.getInt(4));
        long at = itemStart;
        RecordType t = RecordType.fromCodeOrNull(type);
        rawType = type;
        recType = t;
        if (t == null && (type & V2Format.REC_TYPE_OPTIONAL) != 0) {
            // an optional record this reader does not know: skipped without gathering it (docs/wire-format-v2.md §2.3)
            if (len > limits.maxRecordBytes()) {
                throw new StreamFatalException(UNKNOWN, type, at, "optional record length " + len
                        + " exceeds the limit " + limits.maxRecordBytes());
            }
            state = State.SKIP;
            skipRemaining = len + V2Format.padding(len);
            asm.start(0);
            return;
        }
        if (t == null) {
            throw new StreamFatalException(UNKNOWN, type, at, "unknown record type");
        }
        checkPlacement(t, at);
        long exact = switch (t) {
            case END, VERIFY, CHECKPOINT, STATIC_DATA_END -> 0;
            case X86_PV_INFO -> V2Format.X86_PV_INFO_SIZE;
            case X86_TSC_INFO -> V2Format.X86_TSC_INFO_SIZE;
            case SHARED_INFO -> V2Format.SHARED_INFO_SIZE;
            default -> -1;
        };
        if (exact >= 0 && len != exact) {
            throw Bodies.bad(t, at, "length " + len + " is not " + exact);
        }
        long max = maxLength(t);
        if (len > max) {
            throw new StreamFatalException(t.name(), type, at, "length " + len + " exceeds the limit " + max);
        }
        checkHeader(t, len, at);
        int need = (int) (len + V2Format.padding(len));
        bodyLen = (int) len;
        if (t == RecordType.PAGE_DATA && pages != null) {
            // streamed: count, then the PFN array, then page by page (the exact length makes padding zero)
            state = State.PD_HEAD;
            asm.start(V2Format.PAGE_DATA_HEADER_SIZE);
            return;
        }
        // the body's offset is reported as the record's offset (its header), as Xen's tools do
        state = State.BODY;
        asm.start(need);
    }

    private long maxLength(RecordType t) {
        long general = limits.maxRecordBytes();
        long specific = switch (t) {
            case END, VERIFY, CHECKPOINT, STATIC_DATA_END -> 0;
            case PAGE_DATA -> V2Format.PAGE_DATA_HEADER_SIZE
                    + (long) limits.maxBatchEntries() * (8 + V2Format.PAGE_SIZE);
            case X86_PV_INFO -> V2Format.X86_PV_INFO_SIZE;
            case X86_PV_P2M_FRAMES -> V2Format.X86_PV_P2M_FRAMES_HDR_SIZE
                    + 8 * ((limits.maxP2mSize() + 511) / 512);
            case X86_PV_VCPU_BASIC -> V2Format.X86_PV_VCPU_HDR_SIZE + V2Format.VCPU_CONTEXT_SIZE_64;
            case X86_PV_VCPU_EXTENDED -> V2Format.X86_PV_VCPU_HDR_SIZE + V2Format.VCPU_EXTENDED_MAX;
            case X86_PV_VCPU_XSAVE -> V2Format.X86_PV_VCPU_HDR_SIZE + (long) limits.maxXsaveBytes();
            case SHARED_INFO -> V2Format.SHARED_INFO_SIZE;
            case X86_TSC_INFO -> V2Format.X86_TSC_INFO_SIZE;
            case HVM_CONTEXT -> limits.maxHvmContextBytes();
            case HVM_PARAMS -> V2Format.HVM_PARAMS_HDR_SIZE
                    + (long) HvmParams.MAX_COUNT * V2Format.HVM_PARAMS_ENTRY_SIZE;
            default -> general;
        };
        return Math.min(general, specific);
    }

    /** Whether this record type may appear here (image version, guest type, static data). */
    private void checkPlacement(RecordType t, long at) throws RecordException {
        if (t.isV3Only() && version < V2Format.IHDR_VERSION_3) {
            throw Bodies.bad(t, at, "record only valid in a version 3 image, this is version " + version);
        }
        switch (t) {
            case TOOLSTACK -> throw Bodies.bad(t, at, "deprecated TOOLSTACK record in stream");
            case CHECKPOINT_DIRTY_PFN_LIST -> throw Bodies.bad(t, at,
                    "dirty pfn list belongs to the COLO back channel, not a forward stream");
            case X86_PV_INFO, X86_PV_P2M_FRAMES, X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE,
                 X86_PV_VCPU_MSRS, SHARED_INFO -> {
                if (guest != GuestType.PV) {
                    throw Bodies.bad(t, at, "PV record in an " + guest + " stream");
                }
            }
            case HVM_CONTEXT, HVM_PARAMS -> {
                if (guest != GuestType.HVM) {
                    throw Bodies.bad(t, at, "HVM record in a " + guest + " stream");
                }
            }
            default -> { }
        }
        if (version >= V2Format.IHDR_VERSION_3) {
            if (t == RecordType.STATIC_DATA_END && staticDataEnd) {
                throw Bodies.bad(t, at, "second STATIC_DATA_END");
            }
            if ((t == RecordType.X86_CPUID_POLICY || t == RecordType.X86_MSR_POLICY) && staticDataEnd) {
                throw Bodies.bad(t, at, "static record after STATIC_DATA_END");
            }
            if ((t == RecordType.PAGE_DATA || t == RecordType.X86_PV_P2M_FRAMES) && !staticDataEnd) {
                throw Bodies.bad(t, at, "missing STATIC_DATA_END, mandatory before memory in a version 3 image");
            }
        }
    }

    /** Length rules decidable from the header alone, checked before any byte of the body is gathered. */
    private void checkHeader(RecordType t, long len, long at) throws RecordException {
        String problem = switch (t) {
            case X86_PV_INFO -> len != V2Format.X86_PV_INFO_SIZE ? "length " + len + " is not 8" : null;
            case X86_TSC_INFO -> len != V2Format.X86_TSC_INFO_SIZE ? "length " + len + " is not 24" : null;
            case SHARED_INFO -> len != V2Format.SHARED_INFO_SIZE ? "length " + len + " is not 4096" : null;
            case PAGE_DATA -> len <= V2Format.PAGE_DATA_HEADER_SIZE ? "length " + len + " leaves no room for a pfn"
                    : null;
            case X86_PV_P2M_FRAMES -> len < 8 || len % 8 != 0
                    ? "length " + len + " is not a multiple of 8 of at least 8" : null;
            case X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE, X86_PV_VCPU_MSRS -> len < 8
                    ? "length " + len + " is below 8" : null;
            case HVM_PARAMS -> len < 8 || (len - 8) % V2Format.HVM_PARAMS_ENTRY_SIZE != 0
                    ? "length " + len + " is not 8 + 16 * count" : null;
            case HVM_CONTEXT, X86_CPUID_POLICY, X86_MSR_POLICY -> BlobRecord.check(t, len, limits);
            default -> null;
        };
        if (problem != null) {
            throw Bodies.bad(t, at, problem);
        }
    }

    private void completeRecord(ByteBuffer span, List<LibxcItem> out) throws StreamException {
        RecordType t = recType;
        long at = itemStart;
        for (int i = bodyLen; i < span.limit(); i++) {
            if (span.get(i) != 0) {
                throw new StreamFatalException(t.name(), t.code(), at, "padding byte " + (i - bodyLen)
                        + " is 0x" + Integer.toHexString(span.get(i) & 0xFF) + ", not zero");
            }
        }
        ByteBuffer body = span.slice(0, bodyLen).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        LibxcRecord r = switch (t) {
            case END, VERIFY, CHECKPOINT, STATIC_DATA_END -> SignalRecord.of(t);
            case PAGE_DATA -> PageData.read(body, at, limits);
            case X86_PV_INFO -> X86PvInfo.read(body, at);
            case X86_PV_P2M_FRAMES -> X86PvP2mFrames.read(body, at, limits);
            case X86_PV_VCPU_BASIC, X86_PV_VCPU_EXTENDED, X86_PV_VCPU_XSAVE, X86_PV_VCPU_MSRS ->
                    VcpuRecord.read(t, body, at, limits);
            case SHARED_INFO -> SharedInfoRecord.read(body, at);
            case X86_TSC_INFO -> TscInfoRecord.read(body, at);
            case HVM_PARAMS -> HvmParams.read(body, at);
            case HVM_CONTEXT, X86_CPUID_POLICY, X86_MSR_POLICY, TOOLSTACK, CHECKPOINT_DIRTY_PFN_LIST ->
                    BlobRecord.read(t, body, at, limits);
        };
        emit(r, out);
        afterRecord(t);
    }

    private void nextDataEntry() {
        do {
            pdEntry++;
        } while (!pd.pageType(pdEntry).hasData());
    }

    private void emit(LibxcItem item, List<LibxcItem> out) {
        if (items != null) {
            items.accept(item);
        } else {
            out.add(item);
        }
    }

    private void afterRecord(RecordType t) {
        if (t == RecordType.STATIC_DATA_END) {
            staticDataEnd = true;
        }
        last = t;
        if (t == RecordType.END) {
            state = State.DONE;
            itemStart = offset;
        } else if (t == RecordType.CHECKPOINT && pauseAtCheckpoint) {
            next(State.RECORD_HEADER, V2Format.RH_SIZE);
            state = State.PAUSED;
        } else {
            next(State.RECORD_HEADER, V2Format.RH_SIZE);
        }
    }
}
