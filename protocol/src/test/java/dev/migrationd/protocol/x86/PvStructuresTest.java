package dev.migrationd.protocol.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.Width;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PvStructuresTest {

    @Test
    void sizesAreXens() {
        assertEquals(0x1430, PvVcpuContext.size(Width.W64));
        assertEquals(0xAF0, PvVcpuContext.size(Width.W32));
        assertEquals(Width.W64, PvVcpuContext.guestWidthOfSize(0x1430));
        assertEquals(Width.W32, PvVcpuContext.guestWidthOfSize(0xAF0));
        assertNull(PvVcpuContext.guestWidthOfSize(0x1000));
        assertEquals(128, PvExtVcpuContext.SIZE);
        assertEquals(4096, SharedInfo.SIZE);
        assertEquals(1024, HvmHwCpu.SIZE);
        assertEquals(608, XsaveRecord.resetState().xsaveLen());
    }

    @ParameterizedTest
    @EnumSource(Width.class)
    void resetStateIsOnlineKernelModeWithFlatSelectors(Width gw) {
        PvVcpuContext c = PvVcpuContext.resetState(gw);
        assertEquals(PvVcpuContext.size(gw), c.toByteArray().length);
        assertTrue(c.isOnline());
        assertEquals(PvVcpuContext.VGCF_I387_VALID | PvVcpuContext.VGCF_IN_KERNEL | PvVcpuContext.VGCF_ONLINE, c.flags());
        assertEquals(0x202, c.rflags());
        assertEquals(0x037F, c.fpuControlWord());
        assertEquals(0x1F80, c.mxcsr());
        assertEquals(gw == Width.W64 ? 0xE033 : 0xE019, c.cs());
        assertEquals(gw == Width.W64 ? 0xE02B : 0xE021, c.ss());
        assertEquals(c.ss(), c.kernelSs());
        boolean paeExt = (c.vmAssist() & (1L << PvVcpuContext.VMASST_TYPE_PAE_EXTENDED_CR3)) != 0;
        assertEquals(gw == Width.W32, paeExt);
    }

    @Test
    void fieldsLandAtTheirOffsets64() {
        PvVcpuContext c = PvVcpuContext.allocate(Width.W64);
        c.setRip(0x1111_2222_3333_4444L);
        c.setRsp(0x5555L);
        c.setRdx(0x77L);
        c.setGdtFrame(15, 0xABCDL);
        c.setKernelSp(0xFFFF_8000_0000_1000L);
        c.setCtrlreg(4, 0x6F0);
        c.setEventCallbackEip(0xE1);
        c.setFailsafeCallbackEip(0xF1);
        c.setSyscallCallbackEip(0x51);
        c.setVmAssist(0x4);
        c.setFsBase(0xF5);
        c.setGsBaseKernel(0x6B);
        c.setGsBaseUser(0x6C);
        ByteBuffer b = ByteBuffer.wrap(c.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x1111_2222_3333_4444L, b.getLong(648));
        assertEquals(0x5555L, b.getLong(672));
        assertEquals(0x77L, b.getLong(616));
        assertEquals(0xABCDL, b.getLong(4832 + 15 * 8));
        assertEquals(0xFFFF_8000_0000_1000L, b.getLong(4976));
        assertEquals(0x6F0L, b.getLong(4984 + 32));
        assertEquals(0xE1L, b.getLong(5112));
        assertEquals(0xF1L, b.getLong(5120));
        assertEquals(0x51L, b.getLong(5128));
        assertEquals(0x4L, b.getLong(5136));
        assertEquals(0xF5L, b.getLong(5144));
        assertEquals(0x6BL, b.getLong(5152));
        assertEquals(0x6CL, b.getLong(5160));
    }

    @Test
    void fieldsLandAtTheirOffsets32() {
        PvVcpuContext c = PvVcpuContext.allocate(Width.W32);
        c.setRip(0xC010_0000L);
        c.setRdx(0x99);
        c.setEventCallbackCs(0xE019);
        c.setEventCallbackEip(0xC000_1000L);
        c.setFailsafeCallbackCs(0xE019);
        c.setFailsafeCallbackEip(0xC000_2000L);
        c.setVmAssist(0x8);
        c.setGdtFrame(1, 0x1234);
        ByteBuffer b = ByteBuffer.wrap(c.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((int) 0xC010_0000L, b.getInt(548));
        assertEquals(0x99, b.getInt(524));
        assertEquals(0xE019, b.getInt(2780));
        assertEquals((int) 0xC000_1000L, b.getInt(2784));
        assertEquals(0xE019, b.getInt(2788));
        assertEquals((int) 0xC000_2000L, b.getInt(2792));
        assertEquals(0x8, b.getInt(2796));
        assertEquals(0x1234, b.getInt(2644));
        assertThrows(IllegalArgumentException.class, () -> c.setRip(1L << 32));
        assertThrows(UnsupportedOperationException.class, c::fsBase);
        assertThrows(UnsupportedOperationException.class, () -> c.setSyscallCallbackEip(1));
        assertThrows(UnsupportedOperationException.class, PvVcpuContext.allocate(Width.W64)::eventCallbackCs);
    }

    @Test
    void cr3IsCanonicalised() {
        PvVcpuContext c64 = PvVcpuContext.allocate(Width.W64);
        c64.setCr3Pfn(0x12345);
        assertEquals(0x12345000L, c64.ctrlreg(3));
        assertEquals(0x12345, c64.cr3Pfn());
        PvVcpuContext c32 = PvVcpuContext.allocate(Width.W32);
        // PAE extended-cr3 folding: (pfn << 12) | (pfn >> 20), truncated to 32 bits
        c32.setCr3Pfn(0x0123_4567L);
        assertEquals(((0x0123_4567L << 12) | (0x0123_4567L >>> 20)) & 0xFFFF_FFFFL, c32.ctrlreg(3));
        assertEquals(0x0123_4567L, c32.cr3Pfn());
        c32.setCr3Pfn(0x3F);
        assertEquals(0x3F000L, c32.ctrlreg(3));
    }

    @Test
    void wrapRefusesWrongSizes() {
        assertThrows(IllegalArgumentException.class, () -> PvVcpuContext.wrap(Width.W64, new byte[0xAF0]));
        assertThrows(IllegalArgumentException.class, () -> PvExtVcpuContext.wrap(new byte[56]));
        assertThrows(IllegalArgumentException.class, () -> SharedInfo.wrap(Width.W64, new byte[4095]));
        assertThrows(IllegalArgumentException.class, () -> HvmHwCpu.wrap(new byte[1032]));
    }

    @Test
    void extendedContextResetState() {
        byte[] b = PvExtVcpuContext.resetState(3).toByteArray();
        assertEquals(128, b.length);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(3, bb.getInt(0));
        assertEquals(56, bb.getInt(4));
        for (int i = 8; i < 128; i++) {
            assertEquals(0, b[i]);
        }
        assertEquals(3, PvExtVcpuContext.wrap(b).vcpu());
    }

    @Test
    void xsaveRecordRoundTripsAndChecksItsSize() throws Exception {
        XsaveRecord r = XsaveRecord.resetState();
        byte[] wire = r.encode();
        ByteBuffer b = ByteBuffer.wrap(wire).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(3, b.getLong(0));
        assertEquals(wire.length - 16, b.getLong(8));
        assertEquals(3, b.getLong(16)); // xcr0
        assertEquals(0x037F, b.getShort(32)); // FCW of the XSAVE area
        assertEquals(3, b.getLong(32 + 512)); // XSTATE_BV
        assertEquals(r, XsaveRecord.parse(wire, 0));
        b.putLong(8, 100);
        RecordException e = assertThrows(RecordException.class, () -> XsaveRecord.parse(wire, 500));
        assertEquals(508, e.offset());
    }

    @ParameterizedTest
    @EnumSource(Width.class)
    void sharedInfoSavedState(Width gw) {
        SharedInfo s = SharedInfo.savedState(gw, 2, 0x4000);
        assertEquals(0x4000, s.maxPfn());
        assertEquals(0, s.pfnToMfnFrameListList());
        assertEquals(1, s.upcallMask(0));
        assertEquals(1, s.upcallMask(1));
        assertEquals(0, s.upcallMask(2));
        assertEquals(gw == Width.W64 ? -1L : 0xFFFF_FFFFL, s.evtchnMaskWord(0));
        byte[] page = s.toByteArray();
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        int maxPfnAt = gw == Width.W64 ? 3088 : 2316;
        assertEquals(0x4000, b.getInt(maxPfnAt));
        assertArrayEquals(page, SharedInfo.wrap(gw, page.clone()).toByteArray());
    }
}
