/**
 * Synthetic save streams: {@link dev.migrationd.protocol.synth.SynthGuest} is a deterministic guest (layout,
 * page contents per checkpoint, vCPU and platform state) and {@link dev.migrationd.protocol.synth.StreamSynth}
 * writes it as a legacy or v2 stream through the protocol writers.
 */
package dev.migrationd.protocol.synth;
