package dev.migrationd.daemon.engine.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A file channel that fails as a full or failing disk does, on the test's word: the next write may write
 * only part of its bytes and then fail (a short write followed by ENOSPC), or fail outright (EIO); the next
 * force may fail after the bytes were written (a failed fsync). Everything else goes to the real channel.
 * Faults are armed on a shared {@link Faults} object, so they reach the channels the journal reopens too.
 */
final class FaultyChannel extends FileChannel {

    /** The next fault to inject, for every channel opened through {@link #opener}. Thread-safe. */
    static final class Faults {
        /** Bytes the next write writes before it fails; -1: no write fault. */
        volatile int writeThenFail = -1;
        final AtomicReference<String> forceFails = new AtomicReference<>();
        /** Opening fails (a repair cannot reopen the file). */
        volatile boolean openFails;
    }

    private final FileChannel real;
    private final Faults faults;

    private FaultyChannel(FileChannel real, Faults faults) {
        this.real = real;
        this.faults = faults;
    }

    /** A {@link Journal.Opener} whose channels obey {@code faults}. */
    static Journal.Opener opener(Faults faults) {
        return (Path path, OpenOption... options) -> {
            if (faults.openFails) {
                throw new IOException(path + ": Input/output error (injected)");
            }
            return new FaultyChannel(FileChannel.open(path, options), faults);
        };
    }

    private int write(ByteBuffer src, long position, boolean positional) throws IOException {
        int n = faults.writeThenFail;
        if (n >= 0) {
            faults.writeThenFail = -1;
            if (n > 0) {
                ByteBuffer part = src.duplicate();
                part.limit(part.position() + Math.min(n, part.remaining()));
                int w = positional ? real.write(part, position) : real.write(part);
                src.position(src.position() + w);
            }
            throw new IOException("No space left on device (injected after " + n + " bytes)");
        }
        return positional ? real.write(src, position) : real.write(src);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return write(src, -1, false);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        return write(src, position, true);
    }

    @Override
    public void force(boolean metaData) throws IOException {
        String why = faults.forceFails.getAndSet(null);
        if (why != null) {
            throw new IOException(why);
        }
        real.force(metaData);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return real.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return real.read(dsts, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        throw new UnsupportedOperationException("the journal writes one buffer at a time");
    }

    @Override
    public long position() throws IOException {
        return real.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        real.position(newPosition);
        return this;
    }

    @Override
    public long size() throws IOException {
        return real.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
        real.truncate(size);
        return this;
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        return real.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        // through this channel's write, so that a write fault applies to copies too
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(count, 64 * 1024));
        long done = 0;
        while (done < count) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            int r = src.read(b);
            if (r <= 0) {
                break;
            }
            b.flip();
            while (b.hasRemaining()) {
                done += write(b, position + done);
            }
        }
        return done;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return real.read(dst, position);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        throw new UnsupportedOperationException("the journal does not map its file");
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return real.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        return real.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
        real.close();
    }
}
