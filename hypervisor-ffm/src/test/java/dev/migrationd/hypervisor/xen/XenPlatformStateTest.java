package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.hypervisor.HypervisorException;
import dev.migrationd.hypervisor.PlatformState;
import dev.migrationd.hypervisor.ffm.NativeCallException;
import dev.migrationd.protocol.x86.HvmParamIndex;
import dev.migrationd.protocol.x86.TscInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** HVM context, params, TSC info and online vCPUs, against {@link FakeXen}. */
class XenPlatformStateTest {

    private final FakeXen xen = new FakeXen();
    private final FakeXen.Dom dom = xen.addHvm("vm", 0x1000, 3);

    private PlatformState platform() throws HypervisorException {
        return xen.hypervisor().domain("vm").platform();
    }

    /** HEADER + one CPU record (1032 bytes, Xen 4.17) + END, as Xen produces it. */
    static byte[] context(int cpuLength) {
        ByteBuffer b = ByteBuffer.allocate(8 + 24 + 8 + cpuLength + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 1).putShort((short) 0).putInt(24);
        b.putInt(XenLayouts.HVM_FILE_MAGIC).putInt(1).putLong(-1L).putInt(0x000806EC).putInt(2_400_000);
        b.putShort((short) 2).putShort((short) 0).putInt(cpuLength);
        b.position(b.position() + cpuLength);
        b.putLong(0); // END
        return b.array();
    }

    @Test
    void hvmContextRoundTripsThroughXen() throws Exception {
        dom.hvmContext = context((int) XenLayouts.HVM_HW_CPU.byteSize());
        byte[] got = platform().hvmContext();
        assertArrayEquals(dom.hvmContext, got);

        byte[] older = context(1024); // a Xen 4.5 CPU record from a legacy stream
        platform().setHvmContext(older);
        assertArrayEquals(older, dom.hvmContext);
    }

    @Test
    void malformedContextsNeverReachXen() throws Exception {
        PlatformState p = platform();
        byte[] good = context(1032);
        byte[] badMagic = good.clone();
        badMagic[8] ^= 1;
        byte[] overrun = good.clone();
        ByteBuffer.wrap(overrun).order(ByteOrder.LITTLE_ENDIAN).putInt(32 + 4, 5000); // CPU record claims 5000 bytes
        byte[] trailing = java.util.Arrays.copyOf(good, good.length + 8);
        byte[] noEnd = java.util.Arrays.copyOf(good, good.length - 8);
        for (byte[] bad : new byte[][] {badMagic, overrun, trailing, noEnd, new byte[0]}) {
            assertThrows(HypervisorException.class, () -> p.setHvmContext(bad));
        }
        assertFalse(xen.calls.contains("xc_domain_hvm_setcontext"));
        HypervisorException e = assertThrows(HypervisorException.class, () -> p.setHvmContext(overrun));
        assertEquals("platform.setHvmContext domain=vm: HVM context record type 2 at offset 32 claims 5000 bytes,"
                + " past the end of the 1080-byte blob", e.getMessage());
    }

    @Test
    void paramsAreTheNonZeroOnesTheStreamCarries() throws Exception {
        dom.params.put(HvmParamIndex.HVM_PARAM_STORE_PFN, 0xFEFFFL);
        dom.params.put(HvmParamIndex.HVM_PARAM_IDENT_PT, 0xFEFFD000L);
        dom.params.put(HvmParamIndex.HVM_PARAM_VIRIDIAN, 0L);
        dom.params.put(2, 7L); // STORE_EVTCHN: host-local, not carried
        Map<Integer, Long> params = platform().hvmParams();
        assertEquals(Map.of(HvmParamIndex.HVM_PARAM_STORE_PFN, 0xFEFFFL, HvmParamIndex.HVM_PARAM_IDENT_PT, 0xFEFFD000L), params);

        platform().setHvmParam(HvmParamIndex.HVM_PARAM_CONSOLE_PFN, 0xFEFFEL);
        assertEquals(0xFEFFEL, dom.params.get(HvmParamIndex.HVM_PARAM_CONSOLE_PFN));
        assertThrows(HypervisorException.class, () -> platform().setHvmParam(HvmParamIndex.HVM_NR_PARAMS, 1));
        assertThrows(HypervisorException.class, () -> platform().setHvmParam(-1, 1));
    }

    @Test
    void tscInfoAndOnlineVcpus() throws Exception {
        dom.tsc = new TscInfo(1, 123_456_789_012L, 2_400_000, 3);
        assertEquals(dom.tsc, platform().tscInfo());
        platform().setTscInfo(new TscInfo(0, 5, 6, 7));
        assertEquals(new TscInfo(0, 5, 6, 7), dom.tsc);

        dom.onlineVcpus.clear(1);
        BitSet online = platform().onlineVcpus();
        assertEquals(BitSet.valueOf(new long[] {0b101}), online);
    }

    @Test
    void aFailingParamReadIsReportedNotSkipped() throws Exception {
        xen.fail("xc_hvm_param_get", FakeXen.EINVAL);
        NativeCallException e = assertThrows(NativeCallException.class, () -> platform().hvmParams());
        assertTrue(e.getMessage().contains("errno 22 (Invalid argument)"), e.getMessage());
    }
}
