package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.StreamException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The page data of a batch (docs/wire-format-legacy.md §5), taken straight from the fed buffers, never copied per page:
 * <ul>
 *   <li>whole batches: a view of the fed buffer when it holds all of the batch's pages, else gathered into one
 *       buffer reused from batch to batch, and then delivered as a {@link PageBatch} viewing it;</li>
 *   <li>with a {@link LegacyStreamReader.PageListener}: the batch's entries first, then each page as soon as it is
 *       complete, a view of the fed buffer or, for a page that straddles feeds, of a one-page scratch buffer.</li>
 * </ul>
 * The hot path of the reader: one {@link Framer.Raw} step per batch or per page, which of the two fixed for the
 * reader's lifetime by whether it has a listener.
 */
final class BatchPages implements Framer.Raw {
    private static final int PAGE = LegacyFormat.PAGE_SIZE;

    private final Framer in;
    private final BodySection body;
    private final LegacyStreamReader.PageListener listener;
    private final ByteBuffer pageScratch = ByteBuffer.allocate(PAGE);
    private ByteBuffer gathered;
    private int fill;
    // whole batches
    private int[] entries;
    private int need;
    // page by page
    private PageBatch batch;
    private int entry;
    private int pagesLeft;

    BatchPages(Framer in, BodySection body, LegacyStreamReader.PageListener listener) {
        this.in = in;
        this.body = body;
        this.listener = listener;
    }

    /** Next: the {@code dataPages} pages of a batch with these (checked) entries. */
    void expect(int[] entries, int dataPages) {
        fill = 0;
        if (listener != null) {
            batch = PageBatch.streamed(entries);
            entry = -1;
            pagesLeft = dataPages;
            nextEntry();
            in.raw("BATCH_PAGES_STREAMED", this);
            in.emit(batch);
        } else {
            this.entries = entries;
            need = dataPages * PAGE;
            in.raw("BATCH_PAGES", this);
        }
    }

    @Override
    public void take(ByteBuffer from) throws StreamException {
        if (listener == null) {
            takeWhole(from);
        } else {
            takePage(from);
        }
    }

    @Override
    public long missing() {
        return listener == null ? need - fill : (long) pagesLeft * PAGE - fill;
    }

    private void takeWhole(ByteBuffer from) throws StreamException {
        int pos = from.position();
        if (fill == 0 && from.remaining() >= need) {
            from.position(pos + need);
            in.advance(need);
            deliver(from.slice(pos, need).order(ByteOrder.LITTLE_ENDIAN));
            return;
        }
        if (gathered == null || gathered.capacity() < need) {
            ByteBuffer grown = ByteBuffer.allocate(Math.max(need, gathered == null ? 0 : gathered.capacity()));
            if (gathered != null && fill > 0) {
                grown.put(0, gathered, 0, fill);
            }
            gathered = grown;
        }
        int take = Math.min(need - fill, from.remaining());
        gathered.put(fill, from, pos, take);
        from.position(pos + take);
        fill += take;
        in.advance(take);
        if (fill == need) {
            deliver(gathered.slice(0, need).order(ByteOrder.LITTLE_ENDIAN));
        }
    }

    private void deliver(ByteBuffer data) throws StreamException {
        int[] e = entries;
        entries = null;
        fill = 0;
        body.next();
        in.emit(PageBatch.owned(e, data));
    }

    private void takePage(ByteBuffer from) throws StreamException {
        int pos = from.position();
        ByteBuffer view;
        if (fill == 0 && from.remaining() >= PAGE) {
            view = from.slice(pos, PAGE).order(ByteOrder.LITTLE_ENDIAN);
            from.position(pos + PAGE);
            in.advance(PAGE);
        } else {
            int take = Math.min(PAGE - fill, from.remaining());
            pageScratch.put(fill, from, pos, take);
            from.position(pos + take);
            fill += take;
            in.advance(take);
            if (fill < PAGE) {
                return;
            }
            fill = 0;
            view = pageScratch.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        }
        PageBatch b = batch;
        int e = entry;
        if (--pagesLeft == 0) {
            batch = null;
            body.next();
        } else {
            nextEntry();
        }
        listener.page(b, e, view);
    }

    private void nextEntry() {
        do {
            entry++;
        } while (entry < batch.count() && !batch.hasData(entry));
    }
}
