package dev.migrationd.protocol.v2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.migrationd.protocol.GuestType;
import dev.migrationd.protocol.PageType;
import dev.migrationd.protocol.StreamLimits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Pages are views, never copies: on the write side over guest memory, on the read side over the input. */
class V2PageViewTest {

    @Test
    void writerHandsGuestMemoryToTheSinkAsAView() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment guest = arena.allocate(2 * 4096, 4096);
            guest.set(ValueLayout.JAVA_BYTE, 4096 + 7, (byte) 0x11);
            PageData pd = PageData.ofSegments(new long[] {PageData.entry(PageType.NOTAB, 1),
                    PageData.entry(PageType.XALLOC, 2)}, guest.asSlice(4096, 4096));
            List<ByteBuffer> handed = new ArrayList<>();
            LibxcWriter w = new LibxcWriter(handed::add);
            w.writeImageHeader(ImageHeader.V3);
            w.writeDomainHeader(DomainHeader.converted(GuestType.HVM));
            w.write(SignalRecord.STATIC_DATA_END);
            w.write(pd);
            ByteBuffer page = handed.getLast();
            assertEquals(4096, page.remaining());
            assertTrue(page.isDirect() && page.isReadOnly(), "a read-only view of native memory");
            guest.set(ValueLayout.JAVA_BYTE, 4096 + 7, (byte) 0x22);
            assertEquals(0x22, page.get(page.position() + 7), "the sink sees guest memory, not a copy");
        }
    }

    @Test
    void contiguousGuestFramesGoOutAsOneView() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment run = arena.allocate(2 * 4096, 4096);
            run.set(ValueLayout.JAVA_BYTE, 4096, (byte) 0x33);
            PageData pd = PageData.ofContiguous(new long[] {PageData.entry(PageType.NOTAB, 4),
                    PageData.entry(PageType.BROKEN, 9), PageData.entry(PageType.L1TAB, 5)}, run);
            assertEquals(0x33, pd.page(2).get(0));
            ByteBuffer[] payload = pd.payload();
            assertEquals(1, payload.length);
            assertEquals(2 * 4096, payload[0].remaining());
            List<ByteBuffer> handed = new ArrayList<>();
            LibxcWriter w = new LibxcWriter(handed::add);
            w.writeImageHeader(ImageHeader.V2);
            w.writeDomainHeader(DomainHeader.converted(GuestType.PV));
            handed.clear();
            w.write(pd);
            assertEquals(2, handed.size(), "header + pfns in one buffer, both pages in one view");
            byte[] bytes = V2Streams.write(List.of(ImageHeader.V2, DomainHeader.converted(GuestType.PV), pd,
                    SignalRecord.END));
            assertEquals(pd, V2Streams.read(bytes, false).get(2));
            assertThrows(IllegalArgumentException.class, () -> PageData.ofContiguous(new long[] {
                    PageData.entry(PageType.NOTAB, 1)}, run));
        }
    }

    @Test
    void readerPagesAreViewsOfTheFedBuffer() throws Exception {
        ByteBuffer page = ByteBuffer.allocate(4096);
        page.put(0, (byte) 5);
        byte[] stream = V2Streams.write(List.of(ImageHeader.V2, DomainHeader.converted(GuestType.HVM),
                PageData.of(new long[] {PageData.entry(PageType.NOTAB, 9)}, page), SignalRecord.END));
        LibxcReader r = new LibxcReader(StreamLimits.DEFAULT);
        List<LibxcItem> items = r.feed(ByteBuffer.wrap(stream));
        PageData pd = (PageData) items.get(2);
        int pageOffset = 40 + 8 + 8 + 8;
        assertEquals(5, stream[pageOffset]);
        stream[pageOffset] = 6;
        assertEquals(6, pd.page(0).get(0), "the page is a view of the input, not a copy");
        assertTrue(pd.page(0).isReadOnly());
        assertThrows(IllegalArgumentException.class, () -> PageData.of(new long[] {PageData.entry(PageType.NOTAB, 1)}));
    }
}
