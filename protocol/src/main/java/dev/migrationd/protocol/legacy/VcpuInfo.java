package dev.migrationd.protocol.legacy;

import dev.migrationd.protocol.ByteSink;
import dev.migrationd.protocol.StreamException;
import dev.migrationd.protocol.Width;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * {@code VCPU_INFO} (−2): {@code i32 max_vcpu_id, u64 vcpumap[max_vcpu_id/64 + 1]}.
 */
public record VcpuInfo(int maxVcpuId, long[] vcpumap) implements LegacyItem {
    public VcpuInfo {
        if (maxVcpuId < 0 || maxVcpuId >= LegacyFormat.XC_SR_MAX_VCPUS) {
            throw new IllegalArgumentException("max_vcpu_id must be in 0..4095: " + maxVcpuId);
        }
        if (vcpumap.length != maxVcpuId / 64 + 1) {
            throw new IllegalArgumentException("vcpumap needs " + (maxVcpuId / 64 + 1) + " words");
        }
        vcpumap = vcpumap.clone();
    }

    /** Online map with the given vcpus (max_vcpu_id = the largest). */
    public static VcpuInfo ofOnline(int... vcpus) {
        int max = 0;
        for (int v : vcpus) {
            max = Math.max(max, v);
        }
        long[] map = new long[max / 64 + 1];
        for (int v : vcpus) {
            map[v / 64] |= 1L << (v % 64);
        }
        return new VcpuInfo(max, map);
    }

    @Override
    public long[] vcpumap() {
        return vcpumap.clone();
    }

    public boolean online(int vcpu) {
        return vcpu >= 0 && vcpu <= maxVcpuId && (vcpumap[vcpu / 64] & (1L << (vcpu % 64))) != 0;
    }

    /** Online vcpu ids in ascending order, up to max_vcpu_id (bits above it are ignored, as Xen does). */
    public int[] onlineVcpus() {
        int n = 0;
        for (int i = 0; i <= maxVcpuId; i++) {
            if (online(i)) {
                n++;
            }
        }
        int[] r = new int[n];
        n = 0;
        for (int i = 0; i <= maxVcpuId; i++) {
            if (online(i)) {
                r[n++] = i;
            }
        }
        return r;
    }

    /** Payload bytes after the id. */
    public int payloadSize() {
        return 4 + 8 * vcpumap.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuInfo v && v.maxVcpuId == maxVcpuId && Arrays.equals(v.vcpumap, vcpumap);
    }

    @Override
    public int hashCode() {
        return 31 * maxVcpuId + Arrays.hashCode(vcpumap);
    }

    @Override
    public String toString() {
        return "VcpuInfo[maxVcpuId=" + maxVcpuId + ", vcpumap=" + Arrays.toString(vcpumap) + "]";
    }

    @Override
    public String itemName() {
        return ChunkType.VCPU_INFO.xenName();
    }

    @Override
    public void write(ByteSink sink, Width width) throws IOException {
        ByteBuffer b = Wire.chunk(ChunkType.VCPU_INFO, payloadSize()).putInt(maxVcpuId);
        for (long w : vcpumap) {
            b.putLong(w);
        }
        Wire.send(sink, b);
    }

    /** Reads the payload after the id: max_vcpu_id (checked against the vCPU limit), then the map it sizes. */
    static void read(Framer in, Framer.Then<? super VcpuInfo> then) throws StreamException {
        in.field("VCPU_INFO_MAX", 4, f -> {
            int max = f.getInt();
            if (max < 0 || max >= in.limits().maxVcpus()) {
                throw in.record("max_vcpu_id " + max + " out of range 0.." + (in.limits().maxVcpus() - 1));
            }
            in.field("VCPU_INFO_MAP", 8L * (max / 64 + 1), m -> {
                long[] map = new long[max / 64 + 1];
                for (int i = 0; i < map.length; i++) {
                    map[i] = m.getLong();
                }
                then.accept(new VcpuInfo(max, map));
            });
        });
    }
}
