package dev.migrationd.daemon.engine.guest;

import dev.migrationd.hypervisor.Domain;
import dev.migrationd.hypervisor.DomainInfo;
import dev.migrationd.hypervisor.DomainShape;
import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.legacy.LegacyItem;
import dev.migrationd.protocol.legacy.LegacyStreamWriter;
import dev.migrationd.protocol.legacy.VcpuInfo;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcWriter;
import dev.migrationd.protocol.v2.RecordType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.function.LongSupplier;

/**
 * What differs between PV and HVM guests, on both ends and in both stream formats, after Xen's
 * {@code xc_sr_save_ops} / {@code xc_sr_restore_ops}: the static data before any page, the per-type state
 * after the last page, and the destination's handling of each. {@link PvOps} and {@link HvmOps} hold one
 * guest type each; the format classes of the stream package call them at the points where a guest type
 * matters and never look at the guest type themselves.
 *
 * <p>One {@link Source} or {@link Destination} per stream, confined to the thread that drives it.
 */
public final class GuestOps {

    private GuestOps() {
    }

    /** The source's side of one guest type: what it writes, in either format. Called once each, in this order. */
    public abstract static sealed class Source permits PvOps.Source, HvmOps.Source {
        /** The domain being sent (paused from the end of body on). */
        protected final Domain domain;
        protected final DomainInfo info;

        Source(Domain domain, DomainInfo info) {
            this.domain = domain;
            this.info = info;
        }

        /** Legacy: the header (static data) before any page. */
        public abstract void writeLegacyHeader(LegacyStreamWriter w) throws IOException, HypervisorException;

        /** Legacy, after the last page batch (guest paused): VCPU_INFO, per-type chunks, LAST_CHECKPOINT, end of body. */
        public abstract void writeLegacyEndOfBody(LegacyStreamWriter w) throws IOException, HypervisorException;

        /** Legacy: the tail, vCPU and platform state (guest paused). */
        public abstract void writeLegacyTail(LegacyStreamWriter w) throws IOException, HypervisorException;

        /** v2, after the domain header: the static data up to and including STATIC_DATA_END, and what precedes memory. */
        public abstract void writeV2StaticData(LibxcWriter w) throws IOException, HypervisorException;

        /** v2, after X86_TSC_INFO (guest paused): vCPU and platform state, up to END (exclusive). */
        public abstract void writeV2Tail(LibxcWriter w) throws IOException, HypervisorException;
    }

    /** The destination's side of one guest type: the items only it has, in either format, checked against the offer. */
    public abstract static sealed class Destination permits PvOps.Destination, HvmOps.Destination {
        /** The domain being restored (paused). */
        protected final Domain domain;
        /** The guest the offer (or the save file's metadata) announced. */
        protected final DomainShape shape;
        private final LongSupplier offset;

        Destination(Domain domain, DomainShape shape, LongSupplier offset) {
            this.domain = domain;
            this.shape = shape;
            this.offset = offset;
        }

        /** Legacy: a header, metadata or tail item the generic applier does not handle itself. */
        public abstract void applyLegacy(LegacyItem item) throws StreamException, HypervisorException;

        /** v2: applies a record of this guest type; false when the record is not one. */
        public abstract boolean applyV2(LibxcItem item) throws StreamException, HypervisorException;

        /** v2: PAGE_DATA arrived; throws when this guest type needs another record before memory. */
        public abstract void checkV2Memory() throws StreamException;

        /** v2: END arrived; throws when a record this guest type needs is missing. */
        public abstract void checkV2End() throws StreamException;

        /** The whole stream arrived: apply what was collected to the (paused) domain. */
        public abstract void complete() throws HypervisorException, StreamException;

        /** A legacy item that does not fit the offer or the guest type. */
        final RecordException mismatch(LegacyItem item, String problem) {
            return new RecordException(item.itemName(), 0, offset.getAsLong(), problem);
        }

        /** A v2 record that does not fit the offer or the stream so far. */
        final RecordException bad(RecordType t, String problem) {
            return new RecordException(t.name(), t.code(), offset.getAsLong(), problem);
        }

        /** The stream's header must describe the guest the offer announced. */
        final void requireOfferP2mSize(LegacyItem header, long p2mSize) throws RecordException {
            if (p2mSize != shape.p2mSize()) {
                throw mismatch(header, "p2m_size 0x" + Long.toHexString(p2mSize) + " differs from the offer's 0x"
                        + Long.toHexString(shape.p2mSize()));
            }
        }

        /** The offset the stream's reader has reached. */
        final long offset() {
            return offset.getAsLong();
        }
    }

    /** The source's ops for {@code info}'s guest type. */
    public static Source source(Domain domain, DomainInfo info) {
        return info.guestType() == GuestType.PV ? new PvOps.Source(domain, info) : new HvmOps.Source(domain, info);
    }

    /**
     * The destination's ops for the offered guest type.
     *
     * @param offset the stream offset the caller's reader has reached (named in the errors)
     */
    public static Destination destination(Domain domain, DomainShape shape, LongSupplier offset) {
        return shape.guestType() == GuestType.PV
                ? new PvOps.Destination(domain, shape, offset) : new HvmOps.Destination(domain, shape, offset);
    }

    /** The vCPUs a stream carries: the online ones, and vcpu0 always (docs/wire-format-legacy.md §6.2). */
    public static VcpuInfo vcpuInfo(BitSet online) {
        BitSet o = (BitSet) online.clone();
        o.set(0);
        return VcpuInfo.ofOnline(o.stream().toArray());
    }

    /** A record's bytes, copied (the buffer is a view of the receive buffer). */
    static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
