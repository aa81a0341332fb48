package dev.migrationd.hypervisor.xen;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.MemoryLayout.unionLayout;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.migrationd.protocol.legacy.ChunkType;
import dev.migrationd.protocol.legacy.HvmMagicPfns;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * The C structures of Xen 4.17's tool interface (Debian libxen-dev headers), as FFM layouts. Member names
 * are the C names, so that {@code XenLayoutsTest} checks every named member against {@code offsetof} and
 * {@code sizeof} from the real headers. Unnamed members are padding. x86_64 host, little-endian.
 */
public final class XenLayouts {

    private XenLayouts() {
    }

    private static ValueLayout.OfLong u64(String name) {
        return JAVA_LONG.withName(name);
    }

    private static ValueLayout.OfInt u32(String name) {
        return JAVA_INT.withName(name);
    }

    private static ValueLayout.OfShort u16(String name) {
        return JAVA_SHORT.withName(name);
    }

    private static ValueLayout.OfByte u8(String name) {
        return JAVA_BYTE.withName(name);
    }

    private static MemoryLayout bytes(String name, long n) {
        return sequenceLayout(n, JAVA_BYTE).withName(name);
    }

    // ---- xenctrl.h / domctl.h ------------------------------------------------------------------------

    /** {@code struct xen_arch_domainconfig} (x86): 8 bytes. */
    public static final StructLayout XEN_ARCH_DOMAINCONFIG = structLayout(
            u32("emulation_flags"), u32("misc_flags"));

    /** {@code xc_domaininfo_t} = {@code struct xen_domctl_getdomaininfo} (domctl interface 0x15): 112 bytes. */
    public static final StructLayout XC_DOMAININFO = structLayout(
            u16("domain"), u16("pad1"), u32("flags"),
            u64("tot_pages"), u64("max_pages"), u64("outstanding_pages"), u64("shr_pages"), u64("paged_pages"),
            u64("shared_info_frame"), u64("cpu_time"),
            u32("nr_online_vcpus"), u32("max_vcpu_id"), u32("ssidref"),
            bytes("handle", 16),
            u32("cpupool"), u8("gpaddr_bits"), bytes("pad2", 7),
            XEN_ARCH_DOMAINCONFIG.withName("arch_config"));

    /** {@code xc_shadow_op_stats_t} = {@code struct xen_domctl_shadow_op_stats}: 8 bytes. */
    public static final StructLayout XC_SHADOW_OP_STATS = structLayout(u32("fault_count"), u32("dirty_count"));

    /** {@code struct xen_domctl_createdomain}, what 4.17's {@code xc_domain_create} takes: 64 bytes. */
    public static final StructLayout XEN_DOMCTL_CREATEDOMAIN = structLayout(
            u32("ssidref"), bytes("handle", 16), u32("flags"), u32("iommu_opts"),
            u32("max_vcpus"), u32("max_evtchn_port"), u32("max_grant_frames"), u32("max_maptrack_frames"),
            u32("grant_opts"), u32("vmtrace_size"), u32("cpupool_id"),
            XEN_ARCH_DOMAINCONFIG.withName("arch"));

    /** {@code xc_vcpuinfo_t} = {@code struct xen_domctl_getvcpuinfo}: 24 bytes. */
    public static final StructLayout XC_VCPUINFO = structLayout(
            u32("vcpu"), u8("online"), u8("blocked"), u8("running"), paddingLayout(1),
            u64("cpu_time"), u32("cpu"), paddingLayout(4));

    /** {@code xc_hypercall_buffer_t} (opaque to callers, but we declare one as DECLARE_HYPERCALL_BUFFER does): 40 bytes. */
    public static final StructLayout XC_HYPERCALL_BUFFER = structLayout(
            ADDRESS.withName("hbuf"), ADDRESS.withName("param_shadow"), u32("dir"), paddingLayout(4),
            ADDRESS.withName("ubuf"), u64("sz"));

    // ---- vcpu_guest_context (xen/foreign/x86_64.h, x86_32.h) ---------------------------------------

    /** {@code struct trap_info_x86_64}: 16 bytes. */
    public static final StructLayout TRAP_INFO_X86_64 = structLayout(
            u8("vector"), u8("flags"), u16("cs"), paddingLayout(4), u64("address"));

    /** {@code struct trap_info_x86_32} (pack 4): 8 bytes. */
    public static final StructLayout TRAP_INFO_X86_32 = structLayout(
            u8("vector"), u8("flags"), u16("cs"), u32("address"));

    /** {@code struct cpu_user_regs_x86_64}: 200 bytes. */
    public static final StructLayout CPU_USER_REGS_X86_64 = structLayout(
            u64("r15"), u64("r14"), u64("r13"), u64("r12"), u64("rbp"), u64("rbx"),
            u64("r11"), u64("r10"), u64("r9"), u64("r8"),
            u64("rax"), u64("rcx"), u64("rdx"), u64("rsi"), u64("rdi"),
            u32("error_code"), u32("entry_vector"), u64("rip"),
            u16("cs"), paddingLayout(2), u8("saved_upcall_mask"), paddingLayout(3),
            u64("rflags"), u64("rsp"),
            u16("ss"), paddingLayout(6), u16("es"), paddingLayout(6), u16("ds"), paddingLayout(6),
            u16("fs"), paddingLayout(6), u16("gs"), paddingLayout(6));

    /** {@code struct cpu_user_regs_x86_32} (pack 4): 68 bytes. */
    public static final StructLayout CPU_USER_REGS_X86_32 = structLayout(
            u32("ebx"), u32("ecx"), u32("edx"), u32("esi"), u32("edi"), u32("ebp"), u32("eax"),
            u16("error_code"), u16("entry_vector"), u32("eip"),
            u16("cs"), u8("saved_upcall_mask"), paddingLayout(1),
            u32("eflags"), u32("esp"),
            u16("ss"), paddingLayout(2), u16("es"), paddingLayout(2), u16("ds"), paddingLayout(2),
            u16("fs"), paddingLayout(2), u16("gs"), paddingLayout(2));

    /** {@code vcpu_guest_context_x86_64_t}: 0x1430 bytes (docs/wire-format-legacy.md §8.1). */
    public static final StructLayout VCPU_GUEST_CONTEXT_X86_64 = structLayout(
            bytes("fpu_ctxt", 512), u64("flags"),
            CPU_USER_REGS_X86_64.withName("user_regs"),
            sequenceLayout(256, TRAP_INFO_X86_64).withName("trap_ctxt"),
            u64("ldt_base"), u64("ldt_ents"),
            sequenceLayout(16, JAVA_LONG).withName("gdt_frames"), u64("gdt_ents"),
            u64("kernel_ss"), u64("kernel_sp"),
            sequenceLayout(8, JAVA_LONG).withName("ctrlreg"),
            sequenceLayout(8, JAVA_LONG).withName("debugreg"),
            u64("event_callback_eip"), u64("failsafe_callback_eip"), u64("syscall_callback_eip"),
            u64("vm_assist"), u64("fs_base"), u64("gs_base_kernel"), u64("gs_base_user"));

    /** {@code vcpu_guest_context_x86_32_t} (pack 4): 0xAF0 bytes (docs/wire-format-legacy.md §8.1). */
    public static final StructLayout VCPU_GUEST_CONTEXT_X86_32 = structLayout(
            bytes("fpu_ctxt", 512), u32("flags"),
            CPU_USER_REGS_X86_32.withName("user_regs"),
            sequenceLayout(256, TRAP_INFO_X86_32).withName("trap_ctxt"),
            u32("ldt_base"), u32("ldt_ents"),
            sequenceLayout(16, JAVA_INT).withName("gdt_frames"), u32("gdt_ents"),
            u32("kernel_ss"), u32("kernel_sp"),
            sequenceLayout(8, JAVA_INT).withName("ctrlreg"),
            sequenceLayout(8, JAVA_INT).withName("debugreg"),
            u32("event_callback_cs"), u32("event_callback_eip"),
            u32("failsafe_callback_cs"), u32("failsafe_callback_eip"),
            u32("vm_assist"));

    /** {@code vcpu_guest_context_any_t}: the buffer {@code xc_vcpu_getcontext}/{@code setcontext} take (0x1430 bytes). */
    public static final UnionLayout VCPU_GUEST_CONTEXT_ANY = unionLayout(
            VCPU_GUEST_CONTEXT_X86_64.withName("x64"), VCPU_GUEST_CONTEXT_X86_32.withName("x32"),
            VCPU_GUEST_CONTEXT_X86_64.withName("c"));

    // ---- PV guest structures (xen/foreign/x86_64.h, x86_32.h; xen/xen.h) ------------------------------

    /** {@code MAX_GUEST_CMDLINE}: bytes of {@code start_info.cmd_line}. */
    public static final int MAX_GUEST_CMDLINE = 1024;

    /** {@code start_info_x86_64_t}: 1168 bytes; the restore patches nr_pages, shared_info, flags, store and console. */
    public static final StructLayout START_INFO_X86_64 = structLayout(
            bytes("magic", 32), u64("nr_pages"), u64("shared_info"), u32("flags"), paddingLayout(4),
            u64("store_mfn"), u32("store_evtchn"), paddingLayout(4),
            unionLayout(
                    structLayout(u64("mfn"), u32("evtchn"), paddingLayout(4)).withName("domU"),
                    structLayout(u32("info_off"), u32("info_size")).withName("dom0")).withName("console"),
            u64("pt_base"), u64("nr_pt_frames"), u64("mfn_list"), u64("mod_start"), u64("mod_len"),
            bytes("cmd_line", MAX_GUEST_CMDLINE), u64("first_p2m_pfn"), u64("nr_p2m_frames"));

    /** {@code start_info_x86_32_t}: 1112 bytes. */
    public static final StructLayout START_INFO_X86_32 = structLayout(
            bytes("magic", 32), u32("nr_pages"), u32("shared_info"), u32("flags"),
            u32("store_mfn"), u32("store_evtchn"),
            unionLayout(
                    structLayout(u32("mfn"), u32("evtchn")).withName("domU"),
                    structLayout(u32("info_off"), u32("info_size")).withName("dom0")).withName("console"),
            u32("pt_base"), u32("nr_pt_frames"), u32("mfn_list"), u32("mod_start"), u32("mod_len"),
            bytes("cmd_line", MAX_GUEST_CMDLINE), u32("first_p2m_pfn"), u32("nr_p2m_frames"));

    /** {@code struct vcpu_info_x86_64}: 64 bytes (the upcall mask byte is left unnamed: its name depends on a macro). */
    public static final StructLayout VCPU_INFO_X86_64 = structLayout(
            u8("evtchn_upcall_pending"), paddingLayout(7), u64("evtchn_pending_sel"),
            bytes("arch", 16), bytes("time", 32));

    /** {@code struct vcpu_info_x86_32}: 64 bytes. */
    public static final StructLayout VCPU_INFO_X86_32 = structLayout(
            u8("evtchn_upcall_pending"), paddingLayout(3), u32("evtchn_pending_sel"),
            bytes("arch", 24), bytes("time", 32));

    /** {@code struct arch_shared_info_x86_64}: 48 bytes. */
    public static final StructLayout ARCH_SHARED_INFO_X86_64 = structLayout(
            u64("max_pfn"), u64("pfn_to_mfn_frame_list_list"), u64("nmi_reason"),
            u64("p2m_cr3"), u64("p2m_vaddr"), u64("p2m_generation"));

    /** {@code struct arch_shared_info_x86_32}: 28 bytes (an i386 guest keeps {@code wc_sec_hi} here). */
    public static final StructLayout ARCH_SHARED_INFO_X86_32 = structLayout(
            u32("max_pfn"), u32("pfn_to_mfn_frame_list_list"), u32("nmi_reason"),
            u32("p2m_cr3"), u32("p2m_vaddr"), u32("p2m_generation"), u32("wc_sec_hi"));

    /** {@code XEN_LEGACY_MAX_VCPUS}: vcpu_info slots in the shared-info page (both widths). */
    public static final int XEN_LEGACY_MAX_VCPUS = 32;

    /** {@code struct shared_info_x86_64}: arch at 3088 (docs/wire-format-legacy.md §8.3). */
    public static final StructLayout SHARED_INFO_X86_64 = structLayout(
            sequenceLayout(XEN_LEGACY_MAX_VCPUS, VCPU_INFO_X86_64).withName("vcpu_info"),
            sequenceLayout(64, JAVA_LONG).withName("evtchn_pending"),
            sequenceLayout(64, JAVA_LONG).withName("evtchn_mask"),
            u32("wc_version"), u32("wc_sec"), u32("wc_nsec"), u32("wc_sec_hi"),
            ARCH_SHARED_INFO_X86_64.withName("arch"));

    /** {@code struct shared_info_x86_32} (the i386 view: {@code wc_sec_hi} lives in {@code arch}): arch at 2316 (§8.3). */
    public static final StructLayout SHARED_INFO_X86_32 = structLayout(
            sequenceLayout(XEN_LEGACY_MAX_VCPUS, VCPU_INFO_X86_32).withName("vcpu_info"),
            sequenceLayout(32, JAVA_INT).withName("evtchn_pending"),
            sequenceLayout(32, JAVA_INT).withName("evtchn_mask"),
            u32("wc_version"), u32("wc_sec"), u32("wc_nsec"),
            ARCH_SHARED_INFO_X86_32.withName("arch"));

    /** {@code struct mmuext_op}: 24 bytes; both arguments are unions of 8-byte members. */
    public static final StructLayout MMUEXT_OP = structLayout(
            u32("cmd"), paddingLayout(4), u64("arg1"), u64("arg2"));

    /** {@code struct hvm_vmce_vcpu} (4.17): 32 bytes. */
    public static final StructLayout HVM_VMCE_VCPU = structLayout(
            u64("caps"), u64("mci_ctl2_bank0"), u64("mci_ctl2_bank1"), u64("mcg_ext_ctl"));

    /** {@code struct xen_domctl_ext_vcpucontext} (4.17): 64 bytes; the stream carries the whole 128-byte union. */
    public static final StructLayout XEN_DOMCTL_EXT_VCPUCONTEXT = structLayout(
            u32("vcpu"), u32("size"), u64("syscall32_callback_eip"), u64("sysenter_callback_eip"),
            u16("syscall32_callback_cs"), u16("sysenter_callback_cs"),
            u8("syscall32_disables_events"), u8("sysenter_disables_events"), paddingLayout(2),
            unionLayout(u64("mcg_cap"), HVM_VMCE_VCPU.withName("vmce")));

    /** {@code struct xen_domctl_vcpuextstate}: 32 bytes; {@code buffer} is a 64-bit guest handle. */
    public static final StructLayout XEN_DOMCTL_VCPUEXTSTATE = structLayout(
            u32("vcpu"), paddingLayout(4), u64("xfeature_mask"), u64("size"), u64("buffer"));

    /** {@code struct xen_domctl_address_size}: 4 bytes. */
    public static final StructLayout XEN_DOMCTL_ADDRESS_SIZE = structLayout(u32("size"));

    /** Bytes of {@code struct xen_domctl}'s argument union ({@code u.pad[128]}). */
    public static final int XEN_DOMCTL_UNION_BYTES = 128;

    /** {@code struct xen_domctl} (interface 0x15), with the union members this backend uses: 144 bytes. */
    public static final StructLayout XEN_DOMCTL = structLayout(
            u32("cmd"), u32("interface_version"), u16("domain"), sequenceLayout(3, JAVA_SHORT).withName("_pad"),
            unionLayout(
                    XEN_DOMCTL_EXT_VCPUCONTEXT.withName("ext_vcpucontext"),
                    XEN_DOMCTL_VCPUEXTSTATE.withName("vcpuextstate"),
                    XEN_DOMCTL_ADDRESS_SIZE.withName("address_size"),
                    bytes("pad", XEN_DOMCTL_UNION_BYTES)).withName("u"));

    /** {@code struct xen_machphys_mfn_list}: 24 bytes; {@code extent_start} is a guest handle (a pointer). */
    public static final StructLayout XEN_MACHPHYS_MFN_LIST = structLayout(
            u32("max_extents"), paddingLayout(4), ADDRESS.withName("extent_start"), u32("nr_extents"), paddingLayout(4));

    // ---- HVM save records (xen/hvm/save.h, xen/arch-x86/hvm/save.h) ---------------------------------

    /** {@code struct hvm_save_descriptor}: 8 bytes, before every record of the HVM context blob (§10). */
    public static final StructLayout HVM_SAVE_DESCRIPTOR = structLayout(
            u16("typecode"), u16("instance"), u32("length"));

    /** {@code struct hvm_save_header}: 24 bytes, the body of the HEADER record (typecode 1). */
    public static final StructLayout HVM_SAVE_HEADER = structLayout(
            u32("magic"), u32("version"), u64("changeset"), u32("cpuid"), u32("gtsc_khz"));

    /**
     * {@code struct hvm_hw_cpu} as of Xen 4.17: 1032 bytes (the CPU record, typecode 2). The first 1024
     * bytes are the Xen 4.5 form of docs/wire-format-legacy.md §10; 4.7+ appended {@code flags} and {@code pad0}.
     */
    public static final StructLayout HVM_HW_CPU = structLayout(
            bytes("fpu_regs", 512),
            u64("rax"), u64("rbx"), u64("rcx"), u64("rdx"), u64("rbp"), u64("rsi"), u64("rdi"), u64("rsp"),
            u64("r8"), u64("r9"), u64("r10"), u64("r11"), u64("r12"), u64("r13"), u64("r14"), u64("r15"),
            u64("rip"), u64("rflags"),
            u64("cr0"), u64("cr2"), u64("cr3"), u64("cr4"),
            u64("dr0"), u64("dr1"), u64("dr2"), u64("dr3"), u64("dr6"), u64("dr7"),
            u32("cs_sel"), u32("ds_sel"), u32("es_sel"), u32("fs_sel"), u32("gs_sel"), u32("ss_sel"),
            u32("tr_sel"), u32("ldtr_sel"),
            u32("cs_limit"), u32("ds_limit"), u32("es_limit"), u32("fs_limit"), u32("gs_limit"), u32("ss_limit"),
            u32("tr_limit"), u32("ldtr_limit"), u32("idtr_limit"), u32("gdtr_limit"),
            u64("cs_base"), u64("ds_base"), u64("es_base"), u64("fs_base"), u64("gs_base"), u64("ss_base"),
            u64("tr_base"), u64("ldtr_base"), u64("idtr_base"), u64("gdtr_base"),
            u32("cs_arbytes"), u32("ds_arbytes"), u32("es_arbytes"), u32("fs_arbytes"), u32("gs_arbytes"),
            u32("ss_arbytes"), u32("tr_arbytes"), u32("ldtr_arbytes"),
            u64("sysenter_cs"), u64("sysenter_esp"), u64("sysenter_eip"),
            u64("shadow_gs"),
            u64("msr_flags"), u64("msr_lstar"), u64("msr_star"), u64("msr_cstar"), u64("msr_syscall_mask"),
            u64("msr_efer"), u64("msr_tsc_aux"),
            u64("tsc"),
            u32("pending_event"), u32("error_code"),
            u32("flags"), u32("pad0"));

    // ---- constants (names as in the C headers) ---------------------------------------------------------

    /** {@code XEN_DOMINF_*} bits of {@code xc_domaininfo_t.flags}. */
    public static final int XEN_DOMINF_DYING = 1 << 0;
    public static final int XEN_DOMINF_HVM_GUEST = 1 << 1;
    public static final int XEN_DOMINF_SHUTDOWN = 1 << 2;
    public static final int XEN_DOMINF_PAUSED = 1 << 3;
    /** The shutdown reason's place in the flags ({@code XEN_DOMINF_shutdownshift}, {@code XEN_DOMINF_shutdownmask}). */
    public static final int XEN_DOMINF_SHUTDOWN_SHIFT = 16;
    public static final int XEN_DOMINF_SHUTDOWN_MASK = 0xff;
    /** {@code SHUTDOWN_suspend}: the guest suspended itself (sched.h). */
    public static final int SHUTDOWN_SUSPEND = 2;

    /** {@code XEN_DOMCTL_SHADOW_OP_*}. */
    public static final int XEN_DOMCTL_SHADOW_OP_OFF = 0;
    public static final int XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY = 2;
    public static final int XEN_DOMCTL_SHADOW_OP_CLEAN = 11;
    public static final int XEN_DOMCTL_SHADOW_OP_PEEK = 12;
    /** {@code XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL}: the final (paused) round also reports pages Xen mapped writably. */
    public static final int XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL = 1 << 0;

    /** {@code XEN_DOMCTL_CDF_*}. */
    public static final int XEN_DOMCTL_CDF_HVM = 1 << 0;
    public static final int XEN_DOMCTL_CDF_HAP = 1 << 1;
    /** {@code XEN_X86_EMU_LAPIC}: the one emulated device a PVH guest has (libxl's PVH domains). */
    public static final int XEN_X86_EMU_LAPIC = 1;
    /** {@code XEN_X86_EMU_VPCI}: PCI config space emulation (a PVH dom0's, never a PVH domU's only). */
    public static final int XEN_X86_EMU_VPCI = 1 << 10;
    /** {@code XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI}: what libxl gives an HVM guest. */
    public static final int XEN_X86_EMU_HVM_DEFAULT = 0x3FF;
    /** {@code XEN_DOMCTL_GRANT_version(2)}. */
    public static final int XEN_DOMCTL_GRANT_VERSION_2 = 2;

    /**
     * The params {@link dev.migrationd.hypervisor.PlatformState#hvmParams()} reads, in the sender's order: those of
     * the legacy HVM-param chunks, then the HVM tail's magic PFNs.
     */
    public static final int[] STREAM_HVM_PARAMS = IntStream.concat(
            ChunkType.hvmParamChunks().stream().mapToInt(ChunkType::hvmParamIndex),
            HvmMagicPfns.HVM_PARAMS.stream().mapToInt(Integer::intValue)).toArray();

    /** {@code HVM_FILE_MAGIC}. */
    public static final int HVM_FILE_MAGIC = 0x54381286;
    /** HVM save typecodes used here. */
    public static final int HVM_SAVE_CODE_END = 0;
    public static final int HVM_SAVE_CODE_HEADER = 1;
    public static final int HVM_SAVE_CODE_CPU = 2;

    /** {@code XEN_DOMCTL_INTERFACE_VERSION} of Xen 4.17. */
    public static final int XEN_DOMCTL_INTERFACE_VERSION = 0x15;
    /** {@code XEN_DOMCTL_*} commands issued through {@code xc_domctl}. */
    public static final int XEN_DOMCTL_SET_ADDRESS_SIZE = 35;
    public static final int XEN_DOMCTL_SET_EXT_VCPUCONTEXT = 42;
    public static final int XEN_DOMCTL_GET_EXT_VCPUCONTEXT = 43;
    public static final int XEN_DOMCTL_SETVCPUEXTSTATE = 62;
    public static final int XEN_DOMCTL_GETVCPUEXTSTATE = 63;

    /** {@code MMUEXT_PIN_L1_TABLE} .. {@code MMUEXT_PIN_L4_TABLE}: {@code MMUEXT_PIN_L1_TABLE + level - 1}. */
    public static final int MMUEXT_PIN_L1_TABLE = 0;
    public static final int MMUEXT_PIN_L4_TABLE = 3;

    /** {@code DOMID_XEN}: maps Xen's own frames (the M2P). */
    public static final int DOMID_XEN = 0x7FF2;
    /** {@code XENMEM_machphys_compat_mfn_list}: the compat (32-bit) M2P's frames. */
    public static final int XENMEM_MACHPHYS_COMPAT_MFN_LIST = 25;
    /** {@code VGCF_online}: set on every restored vCPU context. */
    public static final long VGCF_ONLINE = 1L << 5;

    /** mmap protections for {@code xenforeignmemory_map}. */
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;

    /** Byte offset of a (possibly nested) member, e.g. {@code offset(XC_DOMAININFO, "arch_config", "emulation_flags")}. */
    public static long offset(GroupLayout layout, String... path) {
        PathElement[] elements = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = PathElement.groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }
}
