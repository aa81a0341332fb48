package dev.migrationd.protocol.v2;

/** An item of the libxc layer: the two headers and the records. */
public sealed interface LibxcItem extends V2Item permits ImageHeader, DomainHeader, LibxcRecord {
}
