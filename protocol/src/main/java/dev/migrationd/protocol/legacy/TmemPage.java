package dev.migrationd.protocol.legacy;

import java.util.Objects;

/** One TMEM page record: {@code u64 oid[3], u32 index, u8 data[pagesize]}. */
public record TmemPage(long oid0, long oid1, long oid2, int index, Bytes data) {
    public TmemPage {
        Objects.requireNonNull(data);
    }
}
