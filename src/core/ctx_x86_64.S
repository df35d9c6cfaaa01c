/* Context switch for x86-64 System V. Saves the callee-saved registers
 * (rbx, rbp, r12-r15), MXCSR and the x87 control word on the current
 * stack, stores rsp in *from, loads rsp from *to and restores the same set.
 * Frame, from the saved rsp upwards:
 *   [0] MXCSR (4 bytes) and x87 CW (2 bytes)  [8] r15  [16] r14  [24] r13
 *   [32] r12  [40] rbx  [48] rbp  [56] return address
 */
        .text
        .globl  weft__ctx_switch
        .hidden weft__ctx_switch
        .type   weft__ctx_switch, @function
        .p2align 4
weft__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    (%rsi), %rsp
        /* ldmxcsr and fldcw are slow; the words rarely differ between
         * contexts, so load them only when they do (rcx: our saved frame,
         * which holds the current words). */
        movq    (%rdi), %rcx
        movl    (%rsp), %eax
        cmpl    (%rcx), %eax
        je      1f
        ldmxcsr (%rsp)
1:      movzwl  4(%rsp), %eax
        cmpw    4(%rcx), %ax
        je      2f
        fldcw   4(%rsp)
2:      addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   weft__ctx_switch, .-weft__ctx_switch

/* First code run on a fresh stack: weft__ctx_make leaves the entry function
 * in r12 and its argument in r13. rsp is 16-byte aligned here, so the call
 * enters entry with the alignment the ABI requires. entry never returns. */
        .globl  weft__ctx_trampoline
        .hidden weft__ctx_trampoline
        .type   weft__ctx_trampoline, @function
        .p2align 4
weft__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   weft__ctx_trampoline, .-weft__ctx_trampoline

        .section .note.GNU-stack,"",@progbits
