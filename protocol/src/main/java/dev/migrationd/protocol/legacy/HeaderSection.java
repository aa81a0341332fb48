package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The stream's header (docs/wire-format-legacy.md §2, §3): detects the toolstack width and the guest type where the
 * caller did not give them, reads {@code p2m_size} and, for a PV guest, the rest of the {@link PvHeader}; then the
 * {@link BodySection} takes over.
 */
final class HeaderSection {
    private final Framer in;
    private final BodySection body;
    private GuestType guestType;
    private PvHeader.Reading pv;

    HeaderSection(Framer in, GuestType guestType, BodySection body) {
        this.in = in;
        this.guestType = guestType;
        this.body = body;
    }

    /** The first thing the stream holds: the p2m_size, or the bytes that tell W and the guest type. */
    void begin() {
        if (in.width() != null && guestType != null) {
            in.ask("P2M_SIZE", in.width().bytes(), this::p2mSize);
        } else {
            in.raw("DETECT", new Detect());
        }
    }

    /** PV or HVM, given or detected (null until detected). */
    GuestType guestType() {
        return guestType;
    }

    /** The guest width of a PV stream once its 'vcpu' block is read, else null. */
    Width guestWidth() {
        return pv == null ? null : pv.guestWidth();
    }

    private void p2mSize(ByteBuffer f) throws StreamException {
        long v = in.ulong(f);
        long max = in.limits().maxP2mSize();
        if (v < 1 || v > LegacyFormat.MAX_P2M_SIZE || v > max) {
            throw in.record("p2m_size 0x" + Long.toHexString(v) + " out of range 1..0x"
                    + Long.toHexString(Math.min(LegacyFormat.MAX_P2M_SIZE, max)));
        }
        if (guestType == GuestType.PV) {
            pv = PvHeader.read(in, v, h -> {
                in.emit(h);
                body.begin(h);
            });
        } else {
            HvmHeader h = new HvmHeader(v);
            in.emit(h);
            body.begin(h);
        }
    }

    /**
     * Reads the octets that tell what the caller left open (§2): W from octets 4–7 of p2m_size (all zero: W = 8),
     * then the guest type (PV iff the W octets after p2m_size are all 0xFF, the extended-info signature); then the
     * octets are read again as the header they are.
     */
    private final class Detect implements Framer.Raw {
        private final byte[] prefix = new byte[16];
        private int have;
        private int need = in.width() == null ? 8 : 2 * in.width().bytes();

        @Override
        public void take(ByteBuffer from) throws StreamException {
            int take = Math.min(need - have, from.remaining());
            from.get(prefix, have, take);
            have += take;
            in.advance(take);
            if (have == need) {
                detect();
            }
        }

        @Override
        public long missing() {
            return need - have;
        }

        private void detect() throws StreamException {
            if (in.width() == null) {
                boolean zero = prefix[4] == 0 && prefix[5] == 0 && prefix[6] == 0 && prefix[7] == 0;
                in.setWidth(zero ? Width.W64 : Width.W32);
            }
            if (guestType == null) {
                int w = in.width().bytes();
                if (have < 2 * w) {
                    need = 2 * w;
                    return;
                }
                boolean ones = true;
                for (int i = w; i < 2 * w; i++) {
                    ones &= prefix[i] == (byte) 0xFF;
                }
                guestType = ones ? GuestType.PV : GuestType.HVM;
            }
            in.ask("P2M_SIZE", in.width().bytes(), HeaderSection.this::p2mSize);
            in.replay(Arrays.copyOf(prefix, have));
        }
    }
}
