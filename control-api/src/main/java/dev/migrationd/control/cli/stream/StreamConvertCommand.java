package dev.migrationd.control.cli.stream;

import dev.migrationd.control.cli.CliException;
import dev.migrationd.control.cli.ExitCode;
import dev.migrationd.protocol.RecordException;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.StreamLimits;
import dev.migrationd.protocol.convert.LegacyToV2Converter;
import dev.migrationd.protocol.convert.LegacyToV2Pipeline;
import dev.migrationd.protocol.legacy.LegacyStreamReader;
import dev.migrationd.protocol.legacy.ToolstackWrappers;
import dev.migrationd.protocol.verify.DetectedStream;
import dev.migrationd.protocol.v2.LibxcItem;
import dev.migrationd.protocol.v2.LibxcReader;
import dev.migrationd.protocol.v2.LibxlHeader;
import dev.migrationd.protocol.v2.LibxlSignalRecord;
import dev.migrationd.protocol.v2.LibxlWriter;
import dev.migrationd.protocol.v2.RecordType;
import dev.migrationd.protocol.v2.SignalRecord;
import dev.migrationd.protocol.verify.StreamVerifier;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code migrationctl stream convert IN OUT --to v2|xl}: legacy → v2 through protocol.convert's in-process pipeline
 * (reader → converter → writer), streaming: one read buffer at a time, pages written synchronously as views. Every
 * checkpoint is kept. An xl header is copied with its STREAMv2 flag set (as {@code convert-legacy-stream -x -f
 * libxl}).
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Converts a legacy stream to v2 in-process, as Xen's convert-legacy-stream does, but keeping "
                + "every Remus checkpoint and the PV unmapped PFNs (as XTAB entries). Width and guest type are "
                + "detected unless given. An xl header is kept, with its STREAMv2 flag set (libxl layer only).",
            "TMEM and compressed Remus checkpoints have no v2 equivalent: such input is refused (exit 1).",
            "--to xl makes a file `xl restore` takes from a `migrationctl save` file (see --config).",
            "OUT is written to a temporary file next to it and moved into place only when complete."}
        )
public final class StreamConvertCommand implements Callable<Integer> {
    private static final int READ_CHUNK = 1 << 16;

    enum Target { v2, xl }

    @Parameters(index = "0", paramLabel = "IN", description = "The legacy stream.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The v2 stream to write.")
    Path out;

    @Option(names = "--to", required = true, paramLabel = "v2|xl", description = {"Target format: v2 (a legacy stream "
            + "converted), or xl: a file `xl restore` takes (xl's header and the domain's configuration, then a libxl v2 "
            + "stream), from a legacy or v2 libxc stream such as `migrationctl save` writes."})
    Target to;

    @Option(names = "--config", paramLabel = "FILE", description = "--to xl: the domain's configuration to put in the "
            + "xl header (JSON as `xl list -l` prints it, or xl config-file syntax). Default: a minimal JSON config from "
            + "IN.meta (name, UUID, type, vCPUs, memory); give the real one when the guest has disks or networks.")
    Path config;

    @Option(names = "--name", paramLabel = "NAME", description = "--to xl: the domain's name in the generated config "
            + "(default: IN.meta's).")
    String name;

    @Option(names = "--xl-type", paramLabel = "pv|pvh|hvm", description = "--to xl: the guest's xl type (default: "
            + "IN.meta's). pvh: no emulator record is written (a PVH guest has no device model).")
    XlSaveFile.XlType xlType;

    @Option(names = "--memory", paramLabel = "SIZE", converter = dev.migrationd.control.cli.text.Converters.Size.class,
            description = "--to xl: the guest's memory in the generated config (default: IN.meta's; required for "
                    + "HVM and PVH guests when IN.meta does not say it).")
    Long memory;

    @Mixin
    OutputOptions output;

    @Mixin
    StreamOptions options;

    @Override
    public Integer call() throws Exception {
        AtomicOutput.checkTarget(out, output.force);
        if (to == Target.xl) {
            return toXl();
        }
        if (config != null || name != null || xlType != null || memory != null) {
            throw new CliException(ExitCode.USAGE, "--config, --name, --xl-type and --memory apply to --to xl only");
        }
        boolean libxl = output.libxl();
        DetectedStream d = StreamVerifier.detect(in, options.verifierOptions());
        if (d.kind() != DetectedStream.Kind.LEGACY) {
            throw new CliException(ExitCode.USAGE, in + " is already a v2 stream");
        }
        byte[] xlHeader = null;
        if (d.wrapper() == DetectedStream.Wrapper.XEND) {
            throw CliException.notImplemented("converting a stream with a xend header (strip the "
                    + d.streamStart() + "-byte header first)");
        }
        if (d.wrapper() == DetectedStream.Wrapper.XL) {
            if (!libxl) {
                throw new CliException(ExitCode.USAGE, "an xl header can only introduce a libxl v2 stream; "
                        + "use --layer libxl");
            }
            xlHeader = xlHeaderForV2(in, (int) d.streamStart());
        }
        LegacyStreamReader.Options ro = new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                StreamLimits.DEFAULT);
        byte[] header = xlHeader;
        long base = d.streamStart();
        try {
            AtomicOutput.write(out, output.force, os -> copy(in, os, header, base, ro, libxl, false));
        } catch (StreamException e) {
            throw d.toFileOffset(e);
        }
        return ExitCode.OK;
    }

    /**
     * {@code --to xl}: xl's header with the domain's configuration, then the stream as libxl v2 (a legacy
     * stream converted, a v2 libxc stream wrapped in LIBXC_CONTEXT … END); a PVH guest's stream gets no
     * emulator record.
     */
    private int toXl() throws Exception {
        DetectedStream d = StreamVerifier.detect(in, options.verifierOptions());
        if (d.wrapper() != null) {
            throw new CliException(ExitCode.USAGE, in + " already has " + (d.wrapper() == DetectedStream.Wrapper.XL
                    ? "an xl header (for a legacy one, --to v2 keeps it and makes the file xl's v2 form)" : "a xend header"));
        }
        if (d.kind() == DetectedStream.Kind.V2_LIBXL) {
            throw new CliException(ExitCode.USAGE, in + " is a libxl v2 stream; --to xl takes a legacy or v2 libxc stream");
        }
        XlSaveFile.XlType type = xlType;
        byte[] cfg;
        boolean json;
        if (config != null) {
            if (name != null || memory != null) {
                throw new CliException(ExitCode.USAGE, "--name and --memory describe a generated config; with --config "
                        + "the file says them");
            }
            cfg = XlSaveFile.readConfig(config);
            json = XlSaveFile.isJson(cfg);
            if (json) {
                cfg = XlSaveFile.withNul(cfg);
            }
            if (type == null) {
                throw new CliException(ExitCode.USAGE, "with --config, say the guest's type with --xl-type pv|pvh|hvm "
                        + "(it decides whether an emulator record follows)");
            }
        } else {
            XlSaveFile.Domain dom = XlSaveFile.fromMeta(in, name, type, memory);
            type = dom.type();
            // the domain's own libxl configuration when the daemon saved one (PV and PVH guests on Xen with libxl)
            java.util.Optional<byte[]> saved = name == null && memory == null ? XlSaveFile.savedConfig(in)
                    : java.util.Optional.empty();
            cfg = saved.isPresent() ? XlSaveFile.withNul(saved.get()) : XlSaveFile.generatedConfig(dom);
            json = true;
        }
        byte[] header = XlSaveFile.header(cfg, json);
        boolean pvh = type == XlSaveFile.XlType.pvh;
        try {
            if (d.kind() == DetectedStream.Kind.LEGACY) {
                LegacyStreamReader.Options ro = new LegacyStreamReader.Options(d.toolstackWidth(), d.guestType(), true,
                        StreamLimits.DEFAULT);
                AtomicOutput.write(out, output.force, os -> copy(in, os, header, 0, ro, true, pvh));
            } else {
                AtomicOutput.write(out, output.force, os -> wrapLibxc(in, os, header));
            }
        } catch (StreamException e) {
            throw d.toFileOffset(e);
        }
        return ExitCode.OK;
    }

    /**
     * A v2 libxc stream as libxl's: header, LIBXC_CONTEXT, the libxc stream as it is (read through
     * {@link LibxcReader} so that only a whole, valid, unchecked-pointed stream is wrapped), END.
     */
    private static void wrapLibxc(Path in, OutputStream os, byte[] xlHeader) throws IOException, StreamException {
        WritableByteChannel wch = Channels.newChannel(os);
        os.write(xlHeader);
        LibxlWriter lx = new LibxlWriter(b -> {
            while (b.hasRemaining()) {
                wch.write(b);
            }
        });
        lx.writeHeader(new LibxlHeader(false));
        lx.write(LibxlSignalRecord.LIBXC_CONTEXT);
        LibxcReader reader = new LibxcReader(StreamLimits.DEFAULT);
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
            long consumed = 0;
            while (ch.read(buf.clear()) >= 0) {
                buf.flip();
                ByteBuffer copy = buf.duplicate();
                for (LibxcItem item : reader.feed(buf)) {
                    if (item instanceof SignalRecord sr && sr.type() == RecordType.CHECKPOINT) {
                        throw new RecordException("CHECKPOINT", 0, consumed, "a checkpointed (Remus) stream cannot be "
                                + "wrapped for xl restore");
                    }
                }
                copy.limit(buf.position());
                consumed += copy.remaining();
                while (copy.hasRemaining()) {
                    wch.write(copy);
                }
                if (buf.hasRemaining()) {
                    throw new RecordException("TRAILING_DATA", 0, consumed, (buf.remaining() + ch.size() - ch.position())
                            + " bytes after the libxc END record");
                }
            }
        }
        if (!reader.isDone()) {
            throw new RecordException("END", 0, Files.size(in), "the libxc stream ends before its END record");
        }
        lx.write(LibxlSignalRecord.END);
    }

    /** The input's xl header with the STREAMv2 mandatory flag set (xl reads a v2 libxl stream after it). */
    private static byte[] xlHeaderForV2(Path in, int length) throws IOException {
        byte[] h = new byte[length];
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(h);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill
            }
        }
        ByteBuffer le = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        le.putInt(36, le.getInt(36) | ToolstackWrappers.XL_MANDATORY_FLAG_STREAMV2);
        return h;
    }

    private static void copy(Path in, OutputStream os, byte[] xlHeader, long base, LegacyStreamReader.Options ro,
            boolean libxl, boolean noEmulator) throws IOException, StreamException {
        WritableByteChannel wch = Channels.newChannel(os);
        if (xlHeader != null) {
            os.write(xlHeader);
        }
        LegacyToV2Pipeline p = new LegacyToV2Pipeline(ro,
                libxl ? LegacyToV2Converter.Format.LIBXL : LegacyToV2Converter.Format.LIBXC, noEmulator, false, b -> {
                    while (b.hasRemaining()) {
                        wch.write(b);
                    }
                });
        try (FileChannel ch = FileChannel.open(in, StandardOpenOption.READ)) {
            ch.position(base);
            ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
            long consumed = 0;
            while (true) {
                buf.clear();
                if (ch.read(buf) < 0) {
                    break;
                }
                buf.flip();
                int n = buf.remaining();
                p.feed(buf);
                consumed += n - buf.remaining();
                if (buf.hasRemaining()) {
                    throw new RecordException("TRAILING_DATA", 0, consumed, (buf.remaining() + ch.size()
                            - ch.position()) + " bytes after the last checkpoint");
                }
            }
            p.finish();
        }
    }
}
