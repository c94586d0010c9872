//! ELF notes: the raw records, and the typed ones (`NT_PRSTATUS`).

use crate::elf::Endian;

/// `n_type` of a per-CPU register note (`elf_prstatus`).
pub const NT_PRSTATUS: u32 = 1;

/// One ELF note, kept raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The owner name without its terminating NUL ("CORE", "VMCOREINFO", "QEMU", ...).
    pub name: Vec<u8>,
    /// The note type.
    pub n_type: u32,
    /// The descriptor bytes.
    pub desc: Vec<u8>,
    /// File offset of the note header (for messages).
    pub offset: u64,
}

impl Note {
    /// The owner name as text (lossy).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Whether this is the kernel's (or QEMU's vmcoreinfo device's) VMCOREINFO note.
    pub fn is_vmcoreinfo(&self) -> bool {
        self.name == b"VMCOREINFO"
    }
}

/// Split a PT_NOTE segment's bytes into notes. Parsing stops at the first record that does
/// not fit (a zero-filled or truncated tail, as /proc/vmcore pads its note segment);
/// `base` is the segment's file offset, used only for [`Note::offset`].
pub fn parse_notes(bytes: &[u8], endian: Endian, base: u64, out: &mut Vec<Note>) {
    let mut pos = 0usize;
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    while let Some(head) = bytes.get(pos..pos.saturating_add(12)) {
        let namesz = endian.u32(&head[0..4]) as usize;
        let descsz = endian.u32(&head[4..8]) as usize;
        let n_type = endian.u32(&head[8..12]);
        if namesz == 0 && descsz == 0 && n_type == 0 {
            break;
        }
        let Some(name_start) = pos.checked_add(12) else {
            break;
        };
        let Some(name_len) = align4(namesz) else {
            break;
        };
        let Some(desc_start) = name_start.checked_add(name_len) else {
            break;
        };
        let Some(desc_len) = align4(descsz) else {
            break;
        };
        let Some(next) = desc_start.checked_add(desc_len) else {
            break;
        };
        let (Some(name), Some(desc)) = (
            bytes.get(name_start..name_start + namesz),
            bytes.get(desc_start..desc_start + descsz),
        ) else {
            break;
        };
        let name = match name.iter().position(|&b| b == 0) {
            Some(nul) => &name[..nul],
            None => name,
        };
        out.push(Note {
            name: name.to_vec(),
            n_type,
            desc: desc.to_vec(),
            offset: base.saturating_add(pos as u64),
        });
        pos = next;
    }
}

/// Register names of x86_64 `struct user_regs_struct`, in their order in `elf_prstatus`.
pub const X86_64_REG_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

/// x86_64 general-purpose registers as the kernel saves them for a crashed CPU
/// (`struct user_regs_struct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct X86_64Regs {
    /// The registers in [`X86_64_REG_NAMES`] order.
    pub regs: [u64; 27],
}

impl X86_64Regs {
    /// A register by name (`"rip"`, `"rsp"`, ...).
    pub fn get(&self, name: &str) -> Option<u64> {
        X86_64_REG_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.regs[i])
    }
    /// Instruction pointer.
    pub fn rip(&self) -> u64 {
        self.regs[16]
    }
    /// Stack pointer.
    pub fn rsp(&self) -> u64 {
        self.regs[19]
    }
}

/// One CPU's `NT_PRSTATUS` note (x86_64 layout, 336 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrStatus {
    /// Index of the note among the dump's PRSTATUS notes (the kernel writes one per
    /// possible CPU in CPU order).
    pub index: usize,
    /// Signal number (`pr_info.si_signo`).
    pub signo: i32,
    /// Current signal (`pr_cursig`).
    pub cursig: i16,
    /// Task id of the task that was running (`pr_pid`).
    pub pid: i32,
    /// The registers.
    pub regs: X86_64Regs,
}

/// Size of x86_64 `struct elf_prstatus`.
pub const X86_64_PRSTATUS_SIZE: usize = 336;
const PR_REG_OFFSET: usize = 112;

impl PrStatus {
    /// Decode an x86_64 `elf_prstatus`; `None` if the descriptor is too short.
    pub fn parse_x86_64(index: usize, desc: &[u8], endian: Endian) -> Option<Self> {
        if desc.len() < X86_64_PRSTATUS_SIZE {
            return None;
        }
        let mut regs = [0u64; 27];
        for (i, r) in regs.iter_mut().enumerate() {
            let at = PR_REG_OFFSET + 8 * i;
            *r = endian.u64(&desc[at..at + 8]);
        }
        Some(Self {
            index,
            signo: endian.u32(&desc[0..4]) as i32,
            cursig: endian.u16(&desc[12..14]) as i16,
            pid: endian.u32(&desc[32..36]) as i32,
            regs: X86_64Regs { regs },
        })
    }
}
