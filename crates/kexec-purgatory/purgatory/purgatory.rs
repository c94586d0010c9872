//! The purgatory program itself: compiled by build.rs into a relocatable x86_64 object.
//!
//! It runs after the old kernel has jumped to it (64-bit mode, identity-mapped, interrupts
//! off). It loads its own stack and GDT, hashes every region listed in the parameter block,
//! stops forever (`cli; hlt` loop) if the digest differs, performs the optional backup copy,
//! then jumps to the new kernel with %rsi = boot_params.
//!
//! Rules for this file: no panicking paths (the object is linked alone, without libcore's
//! panic machinery; build.rs fails on any undefined symbol), no floating point, no aggregate
//! copies that the code generator could turn into vector moves (the test suite checks the
//! disassembly for xmm/ymm registers).
#![no_std]
#![allow(dead_code)]

#[path = "../src/params.rs"]
mod params;
mod vsha256;

use params::{Params, MAX_REGIONS};

/// The parameter block, filled in by the loader (located through its section).
#[used]
#[link_section = ".kdumprs.params"]
static mut PARAMS: Params = Params::empty();

/// Scratch words for the SHA-256 computation (zero-filled .bss).
static mut SHA_SCRATCH: [u32; vsha256::SCRATCH_WORDS] = [0; vsha256::SCRATCH_WORDS];

core::arch::global_asm!(
    r#"
    .section .kdumprs.entry,"ax",@progbits
    .globl kdumprs_purgatory_start
kdumprs_purgatory_start:
    cli
    cld
    movabs $kdumprs_stack_top, %rsp
    movabs $kdumprs_gdt_ptr, %rax
    lgdt (%rax)
    movabs $1f, %rax
    pushq $0x10
    pushq %rax
    lretq
1:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movabs $kdumprs_purgatory_main, %rax
    callq *%rax
2:
    cli
    hlt
    jmp 2b

    .section .data.kdumprs_gdt,"aw",@progbits
    .balign 16
kdumprs_gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
kdumprs_gdt_end:
    .balign 16
kdumprs_gdt_ptr:
    .word kdumprs_gdt_end - kdumprs_gdt - 1
    .quad kdumprs_gdt

    .section .bss.kdumprs_stack,"aw",@nobits
    .balign 16
kdumprs_stack:
    .skip 16384
kdumprs_stack_top:
"#,
    options(att_syntax)
);

fn halt_forever() -> ! {
    loop {
        // SAFETY: stopping the CPU is the intended outcome on a digest mismatch.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack, att_syntax)) };
    }
}

#[inline(never)]
fn read_u64(p: *const u64) -> u64 {
    // SAFETY: p points into PARAMS, a static of this object.
    unsafe { core::ptr::read_volatile(p) }
}

#[no_mangle]
extern "C" fn kdumprs_purgatory_main() -> ! {
    let p = &raw const PARAMS;
    // SAFETY (all field reads below): p is the address of the static parameter block.
    let count = read_u64(unsafe { &raw const (*p).region_count });
    let count = if count > MAX_REGIONS as u64 { MAX_REGIONS as u64 } else { count };
    // SAFETY: the scratch static is used only here, by this single-threaded program.
    let mut h = unsafe { vsha256::VSha::new(&raw mut SHA_SCRATCH as *mut u32) };
    let mut i = 0usize;
    while (i as u64) < count && i < MAX_REGIONS {
        let start = read_u64(unsafe { &raw const (*p).regions[i].start });
        let len = read_u64(unsafe { &raw const (*p).regions[i].len });
        let mut off = 0u64;
        // Whole blocks straight from memory (every region is page-sized in practice).
        // SAFETY: the region is a loaded segment, identity-mapped by the old kernel.
        if unsafe { h.blocks(start as *const u8, len / 64) } {
            off = len - len % 64;
        }
        while off < len {
            // SAFETY: the loader lists only loaded segments, identity-mapped by the old kernel.
            let b = unsafe { core::ptr::read_volatile((start + off) as *const u8) };
            h.byte(b);
            off += 1;
        }
        i += 1;
    }
    // SAFETY: the digest field is 32 bytes of the static block.
    let ok = h.finish_matches(unsafe { &raw const (*p).digest } as *const u8);
    if !ok {
        halt_forever();
    }
    let bsrc = read_u64(unsafe { &raw const (*p).backup_src });
    let bdst = read_u64(unsafe { &raw const (*p).backup_dst });
    let blen = read_u64(unsafe { &raw const (*p).backup_len });
    if blen != 0 {
        // SAFETY: the loader placed a backup segment of blen bytes at bdst, inside the crash
        // range; the source is the old kernel's low memory, identity-mapped.
        unsafe { copy_bytes(bdst as *mut u8, bsrc as *const u8, blen as usize) };
    }
    let rip = read_u64(unsafe { &raw const (*p).entry_rip });
    let rsi = read_u64(unsafe { &raw const (*p).rsi });
    let rsp = read_u64(unsafe { &raw const (*p).rsp });
    // SAFETY: jump to the verified kernel with the boot protocol's registers; never returns.
    unsafe {
        core::arch::asm!(
            "movq {sp}, %rsp",
            "xorl %ebp, %ebp",
            "jmpq *{ip}",
            sp = in(reg) rsp,
            ip = in(reg) rip,
            in("rsi") rsi,
            options(noreturn, att_syntax)
        )
    }
}

/// # Safety
/// `dst` and `src` must be valid for `n` bytes.
unsafe fn copy_bytes(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: forwarded contract; `rep movsb` copies rcx bytes from rsi to rdi (DF is clear).
    unsafe {
        core::arch::asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
            options(nostack, att_syntax));
    }
}

// The code generator may call these four; nothing else provides them in a freestanding object.
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: same contract as C memcpy.
    unsafe { copy_bytes(dst, src, n) };
    dst
}

#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize).wrapping_add(n) {
        // SAFETY: forward copy is correct when dst does not start inside src.
        unsafe { copy_bytes(dst, src, n) };
    } else {
        let mut i = n;
        while i > 0 {
            i -= 1;
            // SAFETY: both pointers valid for n bytes (C memmove contract).
            unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
        }
    }
    dst
}

#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: `rep stosb` stores al into rcx bytes at rdi (DF is clear); C memset contract.
    unsafe {
        core::arch::asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8,
            options(nostack, att_syntax));
    }
    dst
}

#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: both pointers valid for n bytes (C memcmp contract).
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    halt_forever()
}
