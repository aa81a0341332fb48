package dev.migrationd.protocol.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles a tiny C program against Xen's public headers (libxen-dev: {@code xen/foreign/x86_64.h},
 * {@code x86_32.h}, {@code xen/hvm/save.h}) that prints {@code sizeof}/{@code offsetof}, and compares
 * every value with the Java constants: a struct layout written by hand is checked against the real headers. Fails, not
 * skips, when gcc or the headers are missing.
 */
class XenHeaderLayoutTest {

    private static final String V64 = "vcpu_guest_context_x86_64";
    private static final String V32 = "vcpu_guest_context_x86_32";
    private static final String S64 = "shared_info_x86_64";
    private static final String S32 = "shared_info_x86_32";

    private static Map<String, Long> expected() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("sizeof(struct " + V64 + ")", (long) PvVcpuContext.SIZE_X86_64);
        m.put("sizeof(struct " + V32 + ")", (long) PvVcpuContext.SIZE_X86_32);
        off(m, V64, "flags", PvVcpuLayout.X64.FLAGS);
        off(m, V64, "user_regs", PvVcpuLayout.X64.USER_REGS);
        m.put("sizeof(struct cpu_user_regs_x86_64)", (long) PvVcpuLayout.X64.USER_REGS_SIZE);
        off(m, V64, "user_regs.r15", PvVcpuLayout.X64.R15);
        off(m, V64, "user_regs.rbp", PvVcpuLayout.X64.RBP);
        off(m, V64, "user_regs.rbx", PvVcpuLayout.X64.RBX);
        off(m, V64, "user_regs.rax", PvVcpuLayout.X64.RAX);
        off(m, V64, "user_regs.rcx", PvVcpuLayout.X64.RCX);
        off(m, V64, "user_regs.rdx", PvVcpuLayout.X64.RDX);
        off(m, V64, "user_regs.rsi", PvVcpuLayout.X64.RSI);
        off(m, V64, "user_regs.rdi", PvVcpuLayout.X64.RDI);
        off(m, V64, "user_regs.error_code", PvVcpuLayout.X64.ERROR_CODE);
        off(m, V64, "user_regs.entry_vector", PvVcpuLayout.X64.ENTRY_VECTOR);
        off(m, V64, "user_regs.rip", PvVcpuLayout.X64.RIP);
        off(m, V64, "user_regs.cs", PvVcpuLayout.X64.CS);
        off(m, V64, "user_regs.saved_upcall_mask", PvVcpuLayout.X64.SAVED_UPCALL_MASK);
        off(m, V64, "user_regs.rflags", PvVcpuLayout.X64.RFLAGS);
        off(m, V64, "user_regs.rsp", PvVcpuLayout.X64.RSP);
        off(m, V64, "user_regs.ss", PvVcpuLayout.X64.SS);
        off(m, V64, "user_regs.es", PvVcpuLayout.X64.ES);
        off(m, V64, "user_regs.ds", PvVcpuLayout.X64.DS);
        off(m, V64, "user_regs.fs", PvVcpuLayout.X64.FS);
        off(m, V64, "user_regs.gs", PvVcpuLayout.X64.GS);
        off(m, V64, "trap_ctxt", PvVcpuLayout.X64.TRAP_CTXT);
        m.put("sizeof(struct trap_info_x86_64)", (long) PvVcpuLayout.X64.TRAP_INFO_SIZE);
        off(m, V64, "ldt_base", PvVcpuLayout.X64.LDT_BASE);
        off(m, V64, "ldt_ents", PvVcpuLayout.X64.LDT_ENTS);
        off(m, V64, "gdt_frames", PvVcpuLayout.X64.GDT_FRAMES);
        off(m, V64, "gdt_ents", PvVcpuLayout.X64.GDT_ENTS);
        off(m, V64, "kernel_ss", PvVcpuLayout.X64.KERNEL_SS);
        off(m, V64, "kernel_sp", PvVcpuLayout.X64.KERNEL_SP);
        off(m, V64, "ctrlreg", PvVcpuLayout.X64.CTRLREG);
        off(m, V64, "debugreg", PvVcpuLayout.X64.DEBUGREG);
        off(m, V64, "event_callback_eip", PvVcpuLayout.X64.EVENT_CALLBACK_EIP);
        off(m, V64, "failsafe_callback_eip", PvVcpuLayout.X64.FAILSAFE_CALLBACK_EIP);
        off(m, V64, "syscall_callback_eip", PvVcpuLayout.X64.SYSCALL_CALLBACK_EIP);
        off(m, V64, "vm_assist", PvVcpuLayout.X64.VM_ASSIST);
        off(m, V64, "fs_base", PvVcpuLayout.X64.FS_BASE);
        off(m, V64, "gs_base_kernel", PvVcpuLayout.X64.GS_BASE_KERNEL);
        off(m, V64, "gs_base_user", PvVcpuLayout.X64.GS_BASE_USER);

        off(m, V32, "flags", PvVcpuLayout.X32.FLAGS);
        off(m, V32, "user_regs", PvVcpuLayout.X32.USER_REGS);
        m.put("sizeof(struct cpu_user_regs_x86_32)", (long) PvVcpuLayout.X32.USER_REGS_SIZE);
        off(m, V32, "user_regs.ebx", PvVcpuLayout.X32.EBX);
        off(m, V32, "user_regs.ecx", PvVcpuLayout.X32.ECX);
        off(m, V32, "user_regs.edx", PvVcpuLayout.X32.EDX);
        off(m, V32, "user_regs.esi", PvVcpuLayout.X32.ESI);
        off(m, V32, "user_regs.edi", PvVcpuLayout.X32.EDI);
        off(m, V32, "user_regs.ebp", PvVcpuLayout.X32.EBP);
        off(m, V32, "user_regs.eax", PvVcpuLayout.X32.EAX);
        off(m, V32, "user_regs.error_code", PvVcpuLayout.X32.ERROR_CODE);
        off(m, V32, "user_regs.entry_vector", PvVcpuLayout.X32.ENTRY_VECTOR);
        off(m, V32, "user_regs.eip", PvVcpuLayout.X32.EIP);
        off(m, V32, "user_regs.cs", PvVcpuLayout.X32.CS);
        off(m, V32, "user_regs.saved_upcall_mask", PvVcpuLayout.X32.SAVED_UPCALL_MASK);
        off(m, V32, "user_regs.eflags", PvVcpuLayout.X32.EFLAGS);
        off(m, V32, "user_regs.esp", PvVcpuLayout.X32.ESP);
        off(m, V32, "user_regs.ss", PvVcpuLayout.X32.SS);
        off(m, V32, "user_regs.es", PvVcpuLayout.X32.ES);
        off(m, V32, "user_regs.ds", PvVcpuLayout.X32.DS);
        off(m, V32, "user_regs.fs", PvVcpuLayout.X32.FS);
        off(m, V32, "user_regs.gs", PvVcpuLayout.X32.GS);
        off(m, V32, "trap_ctxt", PvVcpuLayout.X32.TRAP_CTXT);
        m.put("sizeof(struct trap_info_x86_32)", (long) PvVcpuLayout.X32.TRAP_INFO_SIZE);
        off(m, V32, "ldt_base", PvVcpuLayout.X32.LDT_BASE);
        off(m, V32, "ldt_ents", PvVcpuLayout.X32.LDT_ENTS);
        off(m, V32, "gdt_frames", PvVcpuLayout.X32.GDT_FRAMES);
        off(m, V32, "gdt_ents", PvVcpuLayout.X32.GDT_ENTS);
        off(m, V32, "kernel_ss", PvVcpuLayout.X32.KERNEL_SS);
        off(m, V32, "kernel_sp", PvVcpuLayout.X32.KERNEL_SP);
        off(m, V32, "ctrlreg", PvVcpuLayout.X32.CTRLREG);
        off(m, V32, "debugreg", PvVcpuLayout.X32.DEBUGREG);
        off(m, V32, "event_callback_cs", PvVcpuLayout.X32.EVENT_CALLBACK_CS);
        off(m, V32, "event_callback_eip", PvVcpuLayout.X32.EVENT_CALLBACK_EIP);
        off(m, V32, "failsafe_callback_cs", PvVcpuLayout.X32.FAILSAFE_CALLBACK_CS);
        off(m, V32, "failsafe_callback_eip", PvVcpuLayout.X32.FAILSAFE_CALLBACK_EIP);
        off(m, V32, "vm_assist", PvVcpuLayout.X32.VM_ASSIST);

        m.put("sizeof(struct vcpu_info_x86_64)", (long) SharedInfo.VCPU_INFO_SIZE);
        m.put("sizeof(struct vcpu_info_x86_32)", (long) SharedInfo.VCPU_INFO_SIZE);
        off(m, "vcpu_info_x86_64", "evtchn_upcall_mask", SharedInfo.VCPU_INFO_UPCALL_MASK);
        off(m, "vcpu_info_x86_64", "evtchn_pending_sel", SharedInfo.X64.VCPU_INFO_PENDING_SEL);
        off(m, "vcpu_info_x86_32", "evtchn_pending_sel", SharedInfo.X32.VCPU_INFO_PENDING_SEL);
        off(m, S64, "evtchn_pending", SharedInfo.X64.EVTCHN_PENDING);
        off(m, S64, "evtchn_mask", SharedInfo.X64.EVTCHN_MASK);
        off(m, S64, "wc_version", SharedInfo.X64.WC_VERSION);
        off(m, S64, "wc_sec", SharedInfo.X64.WC_SEC);
        off(m, S64, "wc_nsec", SharedInfo.X64.WC_NSEC);
        off(m, S64, "arch", SharedInfo.X64.ARCH);
        off(m, S64, "arch.max_pfn", SharedInfo.X64.ARCH_MAX_PFN);
        off(m, S64, "arch.pfn_to_mfn_frame_list_list", SharedInfo.X64.ARCH_PFN_TO_MFN_FRAME_LIST_LIST);
        off(m, S64, "arch.nmi_reason", SharedInfo.X64.ARCH_NMI_REASON);
        off(m, S32, "evtchn_pending", SharedInfo.X32.EVTCHN_PENDING);
        off(m, S32, "evtchn_mask", SharedInfo.X32.EVTCHN_MASK);
        off(m, S32, "wc_version", SharedInfo.X32.WC_VERSION);
        off(m, S32, "wc_sec", SharedInfo.X32.WC_SEC);
        off(m, S32, "wc_nsec", SharedInfo.X32.WC_NSEC);
        off(m, S32, "arch", SharedInfo.X32.ARCH);
        off(m, S32, "arch.max_pfn", SharedInfo.X32.ARCH_MAX_PFN);
        off(m, S32, "arch.pfn_to_mfn_frame_list_list", SharedInfo.X32.ARCH_PFN_TO_MFN_FRAME_LIST_LIST);
        off(m, S32, "arch.nmi_reason", SharedInfo.X32.ARCH_NMI_REASON);

        String c = "hvm_hw_cpu";
        off(m, c, "rax", HvmHwCpu.RAX);
        off(m, c, "rbx", HvmHwCpu.RBX);
        off(m, c, "rcx", HvmHwCpu.RCX);
        off(m, c, "rdx", HvmHwCpu.RDX);
        off(m, c, "rbp", HvmHwCpu.RBP);
        off(m, c, "rsi", HvmHwCpu.RSI);
        off(m, c, "rdi", HvmHwCpu.RDI);
        off(m, c, "rsp", HvmHwCpu.RSP);
        off(m, c, "r8", HvmHwCpu.R8);
        off(m, c, "r9", HvmHwCpu.R9);
        off(m, c, "r10", HvmHwCpu.R10);
        off(m, c, "r11", HvmHwCpu.R11);
        off(m, c, "r12", HvmHwCpu.R12);
        off(m, c, "r13", HvmHwCpu.R13);
        off(m, c, "r14", HvmHwCpu.R14);
        off(m, c, "r15", HvmHwCpu.R15);
        off(m, c, "rip", HvmHwCpu.RIP);
        off(m, c, "rflags", HvmHwCpu.RFLAGS);
        off(m, c, "cr0", HvmHwCpu.CR0);
        off(m, c, "cr2", HvmHwCpu.CR2);
        off(m, c, "cr3", HvmHwCpu.CR3);
        off(m, c, "cr4", HvmHwCpu.CR4);
        off(m, c, "dr0", HvmHwCpu.DR0);
        off(m, c, "dr1", HvmHwCpu.DR1);
        off(m, c, "dr2", HvmHwCpu.DR2);
        off(m, c, "dr3", HvmHwCpu.DR3);
        off(m, c, "dr6", HvmHwCpu.DR6);
        off(m, c, "dr7", HvmHwCpu.DR7);
        String[] segs = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr", "idtr", "gdtr"};
        for (HvmHwCpu.Seg s : HvmHwCpu.Seg.values()) {
            String n = segs[s.ordinal()];
            if (s.ordinal() < 8) {
                off(m, c, n + "_sel", HvmHwCpu.SEL + 4 * s.ordinal());
                off(m, c, n + "_arbytes", HvmHwCpu.ARBYTES + 4 * s.ordinal());
            }
            off(m, c, n + "_limit", HvmHwCpu.LIMIT + 4 * s.ordinal());
            off(m, c, n + "_base", HvmHwCpu.BASE + 8 * s.ordinal());
        }
        off(m, c, "sysenter_cs", HvmHwCpu.SYSENTER_CS);
        off(m, c, "sysenter_esp", HvmHwCpu.SYSENTER_ESP);
        off(m, c, "sysenter_eip", HvmHwCpu.SYSENTER_EIP);
        off(m, c, "shadow_gs", HvmHwCpu.SHADOW_GS);
        off(m, c, "msr_flags", HvmHwCpu.MSR_FLAGS);
        off(m, c, "msr_lstar", HvmHwCpu.MSR_LSTAR);
        off(m, c, "msr_star", HvmHwCpu.MSR_STAR);
        off(m, c, "msr_cstar", HvmHwCpu.MSR_CSTAR);
        off(m, c, "msr_syscall_mask", HvmHwCpu.MSR_SYSCALL_MASK);
        off(m, c, "msr_efer", HvmHwCpu.MSR_EFER);
        off(m, c, "msr_tsc_aux", HvmHwCpu.MSR_TSC_AUX);
        off(m, c, "tsc", HvmHwCpu.TSC);
        off(m, c, "pending_event", HvmHwCpu.PENDING_EVENT);
        off(m, c, "error_code", HvmHwCpu.ERROR_CODE);
        // Xen >= 4.7 appends u32 flags + pad: the 4.5 record ends where 'flags' starts
        off(m, c, "flags", HvmHwCpu.SIZE);
        m.put("sizeof(struct hvm_save_header)", (long) HvmSaveType.HEADER.length());
        m.put("sizeof(struct hvm_save_descriptor)", (long) HvmContext.DESCRIPTOR_SIZE);
        m.put("HVM_FILE_MAGIC", Integer.toUnsignedLong(HvmContext.HVM_FILE_MAGIC));
        m.put("HVM_FILE_VERSION", (long) HvmContext.HVM_FILE_VERSION);
        m.put("VGCF_online", PvVcpuContext.VGCF_ONLINE);
        m.put("VGCF_in_kernel", PvVcpuContext.VGCF_IN_KERNEL);
        m.put("VGCF_i387_valid", PvVcpuContext.VGCF_I387_VALID);
        m.put("VMASST_TYPE_pae_extended_cr3", (long) PvVcpuContext.VMASST_TYPE_PAE_EXTENDED_CR3);
        m.put("sizeof(struct hvm_hw_lapic)", (long) HvmSaveType.LAPIC.length());
        m.put("sizeof(struct hvm_hw_mtrr)", (long) HvmSaveType.MTRR.length());
        m.put("sizeof(struct hvm_hw_pit)", (long) HvmSaveType.PIT.length());
        m.put("sizeof(struct hvm_hw_hpet)", (long) HvmSaveType.HPET.length());
        return m;
    }

    private static void off(Map<String, Long> m, String struct, String field, long value) {
        m.put("offsetof(struct " + struct + ", " + field + ")", value);
    }

    @Test
    void javaLayoutsMatchXenPublicHeaders(@TempDir Path dir) throws IOException, InterruptedException {
        Path gcc = Path.of("/usr/bin/gcc");
        assertTrue(Files.isExecutable(gcc), "gcc is required for the header layout test (apt-get install gcc)");
        assertTrue(Files.exists(Path.of("/usr/include/xen/foreign/x86_64.h")),
                "Xen public headers are required (apt-get install libxen-dev)");
        Map<String, Long> exp = expected();
        StringBuilder src = new StringBuilder("""
                #include <stdio.h>
                #include <stddef.h>
                #include <stdint.h>
                #include <xen/xen.h>
                #include <xen/foreign/x86_32.h>
                #include <xen/foreign/x86_64.h>
                #include <xen/hvm/save.h>
                int main(void) {
                """);
        for (String expr : exp.keySet()) {
            src.append("  printf(\"%llu\\n\", (unsigned long long)(").append(expr).append("));\n");
        }
        src.append("  return 0;\n}\n");
        Path c = dir.resolve("layout.c");
        Path exe = dir.resolve("layout");
        Files.writeString(c, src);
        Process p = new ProcessBuilder(gcc.toString(), "-o", exe.toString(), c.toString()).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gcc timed out");
        assertEquals(0, p.exitValue(), "gcc failed:\n" + out);
        Process run = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String[] lines = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n");
        assertTrue(run.waitFor(30, TimeUnit.SECONDS));
        assertEquals(exp.size(), lines.length);
        int i = 0;
        StringBuilder mismatches = new StringBuilder();
        for (Map.Entry<String, Long> e : exp.entrySet()) {
            long fromC = Long.parseUnsignedLong(lines[i++].trim());
            if (fromC != e.getValue()) {
                mismatches.append(e.getKey()).append(": C ").append(fromC).append(", Java ").append(e.getValue())
                        .append('\n');
            }
        }
        assertEquals("", mismatches.toString());
    }
}
