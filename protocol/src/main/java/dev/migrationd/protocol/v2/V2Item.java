package dev.migrationd.protocol.v2;

/** Anything a v2 reader yields or a v2 writer writes: a libxc item or a libxl item. */
public sealed interface V2Item permits LibxcItem, LibxlItem {
}
