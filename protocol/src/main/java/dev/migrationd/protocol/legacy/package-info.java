/**
 * The Xen legacy libxc save / restore / migration stream (Xen 4.0–4.5), byte-exact, as
 * {@code docs/wire-format-legacy.md} describes it.
 *
 * <h2>Model</h2>
 * {@link dev.migrationd.protocol.legacy.LegacyItem} is a sealed interface with one small record per chunk shape
 * (header, page batch, every {@code XC_SAVE_ID_*} −1…−20, end of body, PV and HVM tail parts, QEMU record,
 * checkpoint end). Each record reads itself (a package-private {@code read} that takes its fields from the reader's
 * framer in wire order) and writes itself ({@link dev.migrationd.protocol.legacy.LegacyItem#write}), side by side.
 * {@link dev.migrationd.protocol.legacy.LegacyFormat} holds every constant under its Xen name;
 * {@link dev.migrationd.protocol.legacy.ChunkType} maps chunk ids, and the HVM-param chunks to their params.
 *
 * <h2>Writing</h2>
 * <pre>{@code
 * var w = new LegacyStreamWriter(sink, Width.W64, GuestType.HVM);         // sink: ByteSink (views, never reused)
 * w.write(new HvmHeader(p2mSize));
 * w.write(new TscInfoChunk(new TscInfo(mode, nsec, khz, incarnation)));  // non-live: before the pages
 * w.write(PageBatch.ofGuestMemory(entries, guestMemory));        // pages go to the sink as views
 * w.write(VcpuInfo.ofOnline(0, 1));
 * w.write(new HvmParam(ChunkType.HVM_IDENT_PT, 0xfeffc000L));            // HVM params in the sender's order
 * w.write(new Toolstack(ToolstackPhysmap.encode(Width.W64, List.of())));
 * w.write(new Marker(ChunkType.LAST_CHECKPOINT));
 * w.write(new EndOfBody());
 * w.write(new HvmMagicPfns(ioreq, bufioreq, store));
 * w.write(new HvmTailContext(blob));
 * w.write(new QemuRecord(QemuSignature.DEVICE_MODEL_RECORD_0002, qemuState));
 * }</pre>
 * The writer enforces the spec's writer rules and chunk order and throws IllegalStateException /
 * IllegalArgumentException for a violation before writing anything of the rejected item.
 *
 * <h2>Reading</h2>
 * <pre>{@code
 * var r = new LegacyStreamReader(Options.detect(), item -> ..., (batch, entry, page) -> copy page into memory);
 * r.feed(buffer);   // any split; items arrive synchronously
 * r.finish();       // EOF: to-EOF QEMU record, checkpointed streams, truncation
 * }</pre>
 * Errors are {@link dev.migrationd.protocol.StreamFatalException} or {@link dev.migrationd.protocol.RecordException}
 * naming item, code and offset. Page data are views valid only during the callback.
 *
 * <p>Inside, the reader is a framer ({@code Framer}: the bytes of the field awaited, raw steps for page data, the
 * offset, the item for errors) and sections that say what comes next and dispatch to the records:
 * {@code HeaderSection} (detection, header), {@code BodySection} (chunks, batches, checkpoints) with
 * {@code BatchPages} (page data as views), {@code TailSection.Pv} and {@code TailSection.Hvm}.
 *
 * <h2>Remus</h2>
 * Checkpointed streams ({@code Options.withCheckpointed(true)}, writer {@code checkpointed = true}) repeat body and
 * tail; each tail is followed by a {@link dev.migrationd.protocol.legacy.CheckpointEnd}. A consumer that
 * restores must buffer each checkpoint after the first and apply it only at its CheckpointEnd (§9).
 * {@link dev.migrationd.protocol.legacy.CheckpointCompression} encodes and decodes Format B page data.
 *
 * <p>Threading: readers and writers are confined to the thread that drives them.
 */
package dev.migrationd.protocol.legacy;
