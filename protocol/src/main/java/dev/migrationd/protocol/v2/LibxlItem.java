package dev.migrationd.protocol.v2;

/** An item of the libxl layer: its header and its records. */
public sealed interface LibxlItem extends V2Item permits LibxlHeader, LibxlRecord {
}
