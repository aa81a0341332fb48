/*
 * A minimal multiboot (v1) guest for QEMU's side of bench/migration-bench.sh's converge series: it rewrites
 * one word of every page from 4 MiB to the end of its memory, in order, round and round, paced with rdtsc
 * to PAGES_PER_CHUNK pages every TICKS_PER_CHUNK time-stamp ticks (QEMU TCG's rdtsc counts the host's TSC).
 * The bench assembles it with both numbers set for the dirty rate it wants:
 *   as --32 --defsym TICKS_PER_CHUNK=N --defsym PAGES_PER_CHUNK=64 -o dirty.o dirty.S
 *   ld -m elf_i386 -Ttext=0x100000 -z max-page-size=0x1000 -o dirty.elf dirty.o
 * and boots it with -kernel dirty.elf. It never returns and has no I/O: a guest that only dirties memory.
 */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000002           /* bit 1: the memory fields of the info structure, please */
    .set FIRST, 0x400000                /* first page written: above the kernel and its data */

    .text
    .code32
    .globl _start
    .align 4
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

_start:
    cli
    movl 8(%ebx), %edi                  /* mem_upper: KiB above 1 MiB */
    shll $10, %edi
    addl $0x100000, %edi                /* end of memory */
    andl $0xFFFFF000, %edi
    rdtsc
    movl %eax, deadline_lo
    movl %edx, deadline_hi
    movl $FIRST, %ecx
chunk:
    movl $PAGES_PER_CHUNK, %ebp
page:
    incl (%ecx)                         /* one word of the page changes: the page is dirty */
    addl $4096, %ecx
    cmpl %edi, %ecx
    jb 1f
    movl $FIRST, %ecx
1:  decl %ebp
    jnz page
    addl $TICKS_PER_CHUNK, deadline_lo  /* the next chunk may start at the deadline */
    adcl $0, deadline_hi
wait:
    rdtsc
    subl deadline_lo, %eax              /* now - deadline, 64-bit */
    sbbl deadline_hi, %edx
    js wait                             /* before the deadline */
    jnz late                            /* far behind */
    cmpl $(8 * TICKS_PER_CHUNK), %eax
    jb chunk                            /* on time (or a little late) */
late:                                   /* far behind (throttled, descheduled): no burst to catch up */
    rdtsc
    movl %eax, deadline_lo
    movl %edx, deadline_hi
    jmp chunk

    .data
    .align 8
deadline_lo: .long 0
deadline_hi: .long 0
