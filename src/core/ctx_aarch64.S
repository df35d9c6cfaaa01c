/* Context switch for AArch64 (AAPCS64). Saves x19-x30 and d8-d15 on the
 * current stack, stores sp in *from, loads sp from *to, restores the same
 * set and returns through x30. Frame (0xa0 bytes) from the saved sp:
 *   x19 x20 | x21 x22 | x23 x24 | x25 x26 | x27 x28 | x29 x30 |
 *   d8 d9 | d10 d11 | d12 d13 | d14 d15
 */
        .text
        .globl  weft__ctx_switch
        .hidden weft__ctx_switch
        .type   weft__ctx_switch, %function
        .p2align 4
weft__ctx_switch:
        sub     sp, sp, #0xa0
        stp     x19, x20, [sp, #0x00]
        stp     x21, x22, [sp, #0x10]
        stp     x23, x24, [sp, #0x20]
        stp     x25, x26, [sp, #0x30]
        stp     x27, x28, [sp, #0x40]
        stp     x29, x30, [sp, #0x50]
        stp     d8, d9, [sp, #0x60]
        stp     d10, d11, [sp, #0x70]
        stp     d12, d13, [sp, #0x80]
        stp     d14, d15, [sp, #0x90]
        mov     x2, sp
        str     x2, [x0]
        ldr     x2, [x1]
        mov     sp, x2
        ldp     x19, x20, [sp, #0x00]
        ldp     x21, x22, [sp, #0x10]
        ldp     x23, x24, [sp, #0x20]
        ldp     x25, x26, [sp, #0x30]
        ldp     x27, x28, [sp, #0x40]
        ldp     x29, x30, [sp, #0x50]
        ldp     d8, d9, [sp, #0x60]
        ldp     d10, d11, [sp, #0x70]
        ldp     d12, d13, [sp, #0x80]
        ldp     d14, d15, [sp, #0x90]
        add     sp, sp, #0xa0
        ret
        .size   weft__ctx_switch, .-weft__ctx_switch

/* First code on a fresh stack: weft__ctx_make leaves the entry function in
 * x19 and its argument in x20. entry never returns. */
        .globl  weft__ctx_trampoline
        .hidden weft__ctx_trampoline
        .type   weft__ctx_trampoline, %function
        .p2align 4
weft__ctx_trampoline:
        mov     x0, x20
        blr     x19
        brk     #0
        .size   weft__ctx_trampoline, .-weft__ctx_trampoline

        .section .note.GNU-stack,"",%progbits
