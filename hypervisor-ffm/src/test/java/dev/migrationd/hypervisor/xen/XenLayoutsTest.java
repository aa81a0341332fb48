package dev.migrationd.hypervisor.xen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks every named member of every Java layout against {@code offsetof}/{@code sizeof} of a C program
 * compiled with gcc against the installed Xen 4.17 headers (Debian libxen-dev). Fails loudly when gcc or
 * the headers are missing.
 */
class XenLayoutsTest {

    /** C type name → Java layout. */
    private static final Map<String, GroupLayout> STRUCTS = new LinkedHashMap<>();

    static {
        STRUCTS.put("struct xen_arch_domainconfig", XenLayouts.XEN_ARCH_DOMAINCONFIG);
        STRUCTS.put("xc_domaininfo_t", XenLayouts.XC_DOMAININFO);
        STRUCTS.put("xc_shadow_op_stats_t", XenLayouts.XC_SHADOW_OP_STATS);
        STRUCTS.put("struct xen_domctl_createdomain", XenLayouts.XEN_DOMCTL_CREATEDOMAIN);
        STRUCTS.put("xc_vcpuinfo_t", XenLayouts.XC_VCPUINFO);
        STRUCTS.put("xc_hypercall_buffer_t", XenLayouts.XC_HYPERCALL_BUFFER);
        STRUCTS.put("struct trap_info_x86_64", XenLayouts.TRAP_INFO_X86_64);
        STRUCTS.put("struct trap_info_x86_32", XenLayouts.TRAP_INFO_X86_32);
        STRUCTS.put("struct cpu_user_regs_x86_64", XenLayouts.CPU_USER_REGS_X86_64);
        STRUCTS.put("struct cpu_user_regs_x86_32", XenLayouts.CPU_USER_REGS_X86_32);
        STRUCTS.put("vcpu_guest_context_x86_64_t", XenLayouts.VCPU_GUEST_CONTEXT_X86_64);
        STRUCTS.put("vcpu_guest_context_x86_32_t", XenLayouts.VCPU_GUEST_CONTEXT_X86_32);
        STRUCTS.put("vcpu_guest_context_any_t", XenLayouts.VCPU_GUEST_CONTEXT_ANY);
        STRUCTS.put("struct hvm_save_descriptor", XenLayouts.HVM_SAVE_DESCRIPTOR);
        STRUCTS.put("struct hvm_save_header", XenLayouts.HVM_SAVE_HEADER);
        STRUCTS.put("struct hvm_hw_cpu", XenLayouts.HVM_HW_CPU);
        STRUCTS.put("start_info_x86_64_t", XenLayouts.START_INFO_X86_64);
        STRUCTS.put("start_info_x86_32_t", XenLayouts.START_INFO_X86_32);
        STRUCTS.put("struct vcpu_info_x86_64", XenLayouts.VCPU_INFO_X86_64);
        STRUCTS.put("struct vcpu_info_x86_32", XenLayouts.VCPU_INFO_X86_32);
        STRUCTS.put("struct arch_shared_info_x86_64", XenLayouts.ARCH_SHARED_INFO_X86_64);
        STRUCTS.put("struct arch_shared_info_x86_32", XenLayouts.ARCH_SHARED_INFO_X86_32);
        STRUCTS.put("struct shared_info_x86_64", XenLayouts.SHARED_INFO_X86_64);
        STRUCTS.put("struct shared_info_x86_32", XenLayouts.SHARED_INFO_X86_32);
        STRUCTS.put("struct mmuext_op", XenLayouts.MMUEXT_OP);
        STRUCTS.put("struct hvm_vmce_vcpu", XenLayouts.HVM_VMCE_VCPU);
        STRUCTS.put("struct xen_domctl_ext_vcpucontext", XenLayouts.XEN_DOMCTL_EXT_VCPUCONTEXT);
        STRUCTS.put("struct xen_domctl_vcpuextstate", XenLayouts.XEN_DOMCTL_VCPUEXTSTATE);
        STRUCTS.put("struct xen_domctl_address_size", XenLayouts.XEN_DOMCTL_ADDRESS_SIZE);
        STRUCTS.put("struct xen_domctl", XenLayouts.XEN_DOMCTL);
        STRUCTS.put("struct xen_machphys_mfn_list", XenLayouts.XEN_MACHPHYS_MFN_LIST);
    }

    @TempDir
    static Path dir;

    /** "ctype|path" → "offset size" as the C compiler sees it. */
    private static Map<String, String> fromC;

    @BeforeAll
    static void compileAndRun() throws Exception {
        for (String header : List.of("/usr/include/xenctrl.h", "/usr/include/xen/hvm/save.h", "/usr/include/xen/foreign/x86_64.h")) {
            assertTrue(Files.isRegularFile(Path.of(header)),
                    header + " is missing: install Debian's libxen-dev (Xen 4.17 headers); these layout checks need it");
        }
        StringBuilder c = new StringBuilder("""
                #include <xenctrl.h>
                #include <xen/hvm/save.h>
                #include <xen/foreign/x86_32.h>
                #include <xen/foreign/x86_64.h>
                #include <stdio.h>
                #include <stddef.h>
                #define M(T, P) printf("%s|%s|%zu %zu\\n", #T, #P, offsetof(T, P), sizeof(((T *)0)->P))
                int main(void) {
                """);
        for (var e : STRUCTS.entrySet()) {
            c.append("  printf(\"%s||0 %zu\\n\", \"").append(e.getKey()).append("\", sizeof(").append(e.getKey()).append("));\n");
            for (String path : memberPaths(e.getValue(), "")) {
                c.append("  M(").append(e.getKey()).append(", ").append(path).append(");\n");
            }
        }
        c.append("  return 0;\n}\n");
        Path src = dir.resolve("layouts.c");
        Path exe = dir.resolve("layouts");
        Files.writeString(src, c);
        String compiled = run(List.of("gcc", "-std=gnu11", "-Wall", "-o", exe.toString(), src.toString()));
        assertTrue(Files.isExecutable(exe), "gcc did not produce a program:\n" + compiled);
        String out = run(List.of(exe.toString()));
        fromC = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            int last = line.lastIndexOf('|');
            fromC.put(line.substring(0, last), line.substring(last + 1));
        }
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd.getFirst() + " (install gcc; the layout checks compile against the Xen headers): " + e.getMessage(), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd.getFirst() + " did not finish");
        assertEquals(0, p.exitValue(), cmd.getFirst() + " failed:\n" + out);
        return out;
    }

    /** C member designators for every named member, recursing into structs, unions and arrays of structs. */
    private static List<String> memberPaths(GroupLayout group, String prefix) {
        List<String> paths = new ArrayList<>();
        for (MemoryLayout m : group.memberLayouts()) {
            if (m.name().isEmpty() && m instanceof GroupLayout anonymous) {
                paths.addAll(memberPaths(anonymous, prefix)); // a C11 anonymous union: its members are the parent's
                continue;
            }
            if (m instanceof PaddingLayout || m.name().isEmpty()) {
                continue;
            }
            String path = prefix + m.name().get();
            paths.add(path);
            if (m instanceof GroupLayout g) {
                paths.addAll(memberPaths(g, path + "."));
            } else if (m instanceof SequenceLayout s && s.elementLayout() instanceof GroupLayout g) {
                paths.addAll(memberPaths(g, path + "[0]."));
                paths.addAll(memberPaths(g, path + "[" + (s.elementCount() - 1) + "]."));
            }
        }
        return paths;
    }

    /** What the Java layout says for each C designator produced by {@link #memberPaths}. */
    private static void javaView(GroupLayout group, String ctype, String prefix, long base, Map<String, String> into) {
        long running = 0;
        for (MemoryLayout m : group.memberLayouts()) {
            long at = group instanceof java.lang.foreign.StructLayout ? running : 0;
            running += m.byteSize();
            if (m.name().isEmpty() && m instanceof GroupLayout anonymous) {
                javaView(anonymous, ctype, prefix, base + at, into);
                continue;
            }
            if (m instanceof PaddingLayout || m.name().isEmpty()) {
                continue;
            }
            long off = base + group.byteOffset(MemoryLayout.PathElement.groupElement(m.name().get()));
            String path = prefix + m.name().get();
            into.put(ctype + "|" + path, off + " " + m.byteSize());
            if (m instanceof GroupLayout g) {
                javaView(g, ctype, path + ".", off, into);
            } else if (m instanceof SequenceLayout s && s.elementLayout() instanceof GroupLayout g) {
                javaView(g, ctype, path + "[0].", off, into);
                long lastIndex = s.elementCount() - 1;
                javaView(g, ctype, path + "[" + lastIndex + "].", off + lastIndex * g.byteSize(), into);
            }
        }
    }

    @Test
    void everyNamedMemberMatchesTheXen417Headers() {
        Map<String, String> fromJava = new LinkedHashMap<>();
        for (var e : STRUCTS.entrySet()) {
            fromJava.put(e.getKey() + "|", "0 " + e.getValue().byteSize());
            javaView(e.getValue(), e.getKey(), "", 0, fromJava);
        }
        List<String> mismatches = new ArrayList<>();
        for (var e : fromJava.entrySet()) {
            String c = fromC.get(e.getKey());
            if (!e.getValue().equals(c)) {
                mismatches.add(e.getKey() + ": java (offset size) " + e.getValue() + ", C " + c);
            }
        }
        assertEquals(fromJava.keySet(), fromC.keySet(), "the C program printed other members than the Java layouts have");
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " layout mismatches against the Xen 4.17 headers:\n" + String.join("\n", mismatches));
        }
        assertTrue(fromJava.size() > 300, "suspiciously few members checked: " + fromJava.size());
    }

    @Test
    void sizesTheStreamAndLibxcDependOn() {
        assertEquals(112, XenLayouts.XC_DOMAININFO.byteSize());
        assertEquals(8, XenLayouts.XC_SHADOW_OP_STATS.byteSize());
        assertEquals(0x1430, XenLayouts.VCPU_GUEST_CONTEXT_X86_64.byteSize());
        assertEquals(0xAF0, XenLayouts.VCPU_GUEST_CONTEXT_X86_32.byteSize());
        assertEquals(0x1430, XenLayouts.VCPU_GUEST_CONTEXT_ANY.byteSize());
        assertEquals(8, XenLayouts.HVM_SAVE_DESCRIPTOR.byteSize());
        assertEquals(24, XenLayouts.HVM_SAVE_HEADER.byteSize());
        assertEquals(1032, XenLayouts.HVM_HW_CPU.byteSize());
        assertEquals(64, XenLayouts.XEN_DOMCTL_CREATEDOMAIN.byteSize());
    }

    /** docs/wire-format-legacy.md §8.3 and §8.2: the shared-info offsets for both guest widths, the domctl and pin structures. */
    @Test
    void pvStructuresAgreeWithTheLegacySpec() {
        GroupLayout s64 = XenLayouts.SHARED_INFO_X86_64;
        GroupLayout s32 = XenLayouts.SHARED_INFO_X86_32;
        assertEquals(2048, XenLayouts.offset(s64, "evtchn_pending"));
        assertEquals(2560, XenLayouts.offset(s64, "evtchn_mask"));
        assertEquals(3072, XenLayouts.offset(s64, "wc_version"));
        assertEquals(3088, XenLayouts.offset(s64, "arch"));
        assertEquals(3096, XenLayouts.offset(s64, "arch", "pfn_to_mfn_frame_list_list"));
        assertEquals(3104, XenLayouts.offset(s64, "arch", "nmi_reason"));
        assertEquals(2048, XenLayouts.offset(s32, "evtchn_pending"));
        assertEquals(2176, XenLayouts.offset(s32, "evtchn_mask"));
        assertEquals(2304, XenLayouts.offset(s32, "wc_version"));
        assertEquals(2316, XenLayouts.offset(s32, "arch"));
        assertEquals(2320, XenLayouts.offset(s32, "arch", "pfn_to_mfn_frame_list_list"));
        assertEquals(8, XenLayouts.offset(XenLayouts.VCPU_INFO_X86_64, "evtchn_pending_sel"));
        assertEquals(4, XenLayouts.offset(XenLayouts.VCPU_INFO_X86_32, "evtchn_pending_sel"));
        assertTrue(s64.byteSize() <= 4096 && s32.byteSize() <= 4096);
        assertEquals(144, XenLayouts.XEN_DOMCTL.byteSize());
        assertEquals(16, XenLayouts.offset(XenLayouts.XEN_DOMCTL, "u"));
        assertEquals(64, XenLayouts.XEN_DOMCTL_EXT_VCPUCONTEXT.byteSize());
        assertEquals(24, XenLayouts.MMUEXT_OP.byteSize());
        assertEquals(1168, XenLayouts.START_INFO_X86_64.byteSize());
        assertEquals(1112, XenLayouts.START_INFO_X86_32.byteSize());
    }

    /** docs/wire-format-legacy.md §8.1: the key offsets of vcpu_guest_context for both guest widths. */
    @Test
    void vcpuContextOffsetsAgreeWithTheLegacySpec() {
        GroupLayout l64 = XenLayouts.VCPU_GUEST_CONTEXT_X86_64;
        GroupLayout l32 = XenLayouts.VCPU_GUEST_CONTEXT_X86_32;
        assertEquals(0, XenLayouts.offset(l64, "fpu_ctxt"));
        assertEquals(512, XenLayouts.offset(l64, "flags"));
        assertEquals(512, XenLayouts.offset(l32, "flags"));
        assertEquals(520, XenLayouts.offset(l64, "user_regs"));
        assertEquals(516, XenLayouts.offset(l32, "user_regs"));
        assertEquals(616, XenLayouts.offset(l64, "user_regs", "rdx"));
        assertEquals(524, XenLayouts.offset(l32, "user_regs", "edx"));
        assertEquals(720, XenLayouts.offset(l64, "trap_ctxt"));
        assertEquals(584, XenLayouts.offset(l32, "trap_ctxt"));
        assertEquals(4816, XenLayouts.offset(l64, "ldt_base"));
        assertEquals(4824, XenLayouts.offset(l64, "ldt_ents"));
        assertEquals(2632, XenLayouts.offset(l32, "ldt_base"));
        assertEquals(2636, XenLayouts.offset(l32, "ldt_ents"));
        assertEquals(4832, XenLayouts.offset(l64, "gdt_frames"));
        assertEquals(2640, XenLayouts.offset(l32, "gdt_frames"));
        assertEquals(4960, XenLayouts.offset(l64, "gdt_ents"));
        assertEquals(2704, XenLayouts.offset(l32, "gdt_ents"));
        assertEquals(4968, XenLayouts.offset(l64, "kernel_ss"));
        assertEquals(4976, XenLayouts.offset(l64, "kernel_sp"));
        assertEquals(2708, XenLayouts.offset(l32, "kernel_ss"));
        assertEquals(2712, XenLayouts.offset(l32, "kernel_sp"));
        assertEquals(4984, XenLayouts.offset(l64, "ctrlreg"));
        assertEquals(2716, XenLayouts.offset(l32, "ctrlreg"));
        assertEquals(5048, XenLayouts.offset(l64, "debugreg"));
        assertEquals(2748, XenLayouts.offset(l32, "debugreg"));
        assertEquals(5112, XenLayouts.offset(l64, "event_callback_eip"));
        assertEquals(5120, XenLayouts.offset(l64, "failsafe_callback_eip"));
        assertEquals(5128, XenLayouts.offset(l64, "syscall_callback_eip"));
        assertEquals(2780, XenLayouts.offset(l32, "event_callback_cs"));
        assertEquals(2784, XenLayouts.offset(l32, "event_callback_eip"));
        assertEquals(2788, XenLayouts.offset(l32, "failsafe_callback_cs"));
        assertEquals(2792, XenLayouts.offset(l32, "failsafe_callback_eip"));
        assertEquals(5136, XenLayouts.offset(l64, "vm_assist"));
        assertEquals(2796, XenLayouts.offset(l32, "vm_assist"));
        assertEquals(5144, XenLayouts.offset(l64, "fs_base"));
        assertEquals(5152, XenLayouts.offset(l64, "gs_base_kernel"));
        assertEquals(5160, XenLayouts.offset(l64, "gs_base_user"));
        assertEquals(16, XenLayouts.TRAP_INFO_X86_64.byteSize());
        assertEquals(8, XenLayouts.TRAP_INFO_X86_32.byteSize());
        assertEquals(200, XenLayouts.CPU_USER_REGS_X86_64.byteSize());
        assertEquals(68, XenLayouts.CPU_USER_REGS_X86_32.byteSize());
    }

    /** docs/wire-format-legacy.md §10: the CPU record's offsets (the 1024-byte Xen 4.5 prefix of 4.17's 1032). */
    @Test
    void hvmCpuRecordOffsetsAgreeWithTheLegacySpec() {
        GroupLayout cpu = XenLayouts.HVM_HW_CPU;
        assertEquals(512, XenLayouts.offset(cpu, "rax"));
        assertEquals(640, XenLayouts.offset(cpu, "rip"));
        assertEquals(648, XenLayouts.offset(cpu, "rflags"));
        assertEquals(656, XenLayouts.offset(cpu, "cr0"));
        assertEquals(688, XenLayouts.offset(cpu, "dr0"));
        assertEquals(736, XenLayouts.offset(cpu, "cs_sel"));
        assertEquals(768, XenLayouts.offset(cpu, "cs_limit"));
        assertEquals(808, XenLayouts.offset(cpu, "cs_base"));
        assertEquals(888, XenLayouts.offset(cpu, "cs_arbytes"));
        assertEquals(920, XenLayouts.offset(cpu, "sysenter_cs"));
        assertEquals(944, XenLayouts.offset(cpu, "shadow_gs"));
        assertEquals(952, XenLayouts.offset(cpu, "msr_flags"));
        assertEquals(1000, XenLayouts.offset(cpu, "msr_tsc_aux"));
        assertEquals(1008, XenLayouts.offset(cpu, "tsc"));
        assertEquals(1016, XenLayouts.offset(cpu, "pending_event"));
        assertEquals(1020, XenLayouts.offset(cpu, "error_code"));
        assertEquals(1024, XenLayouts.offset(cpu, "flags"));
        assertEquals(0, XenLayouts.offset(XenLayouts.HVM_SAVE_DESCRIPTOR, "typecode"));
        assertEquals(2, XenLayouts.offset(XenLayouts.HVM_SAVE_DESCRIPTOR, "instance"));
        assertEquals(4, XenLayouts.offset(XenLayouts.HVM_SAVE_DESCRIPTOR, "length"));
        assertEquals(8, XenLayouts.offset(XenLayouts.HVM_SAVE_HEADER, "changeset"));
        assertEquals(16, XenLayouts.offset(XenLayouts.HVM_SAVE_HEADER, "cpuid"));
        assertEquals(20, XenLayouts.offset(XenLayouts.HVM_SAVE_HEADER, "gtsc_khz"));
    }
}
