//! The x86 "zero page": `struct boot_params` and its setup header, hand-written as
//! `#[repr(C, packed)]` structs with compile-time size and offset checks, and serialised
//! field by field (no unsafe, no transmute).

/// Little-endian field (de)serialisation for the packed structs below.
pub trait Field: Sized + Copy {
    /// Append the little-endian bytes.
    fn put(&self, out: &mut Vec<u8>);
    /// Read at `*off` from a buffer known to be large enough (callers pad), advancing `off`.
    fn get(b: &[u8], off: &mut usize) -> Self;
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn put(&self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()); }
            fn get(b: &[u8], off: &mut usize) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                for (i, x) in a.iter_mut().enumerate() { *x = b.get(*off + i).copied().unwrap_or(0); }
                *off += a.len();
                <$t>::from_le_bytes(a)
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64);

impl<T: Field + Default, const N: usize> Field for [T; N] {
    fn put(&self, out: &mut Vec<u8>) {
        for x in self {
            x.put(out);
        }
    }
    fn get(b: &[u8], off: &mut usize) -> Self {
        let mut a = [T::default(); N];
        for x in a.iter_mut() {
            *x = T::get(b, off);
        }
        a
    }
}

macro_rules! packed_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[repr(C, packed)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }
        impl Field for $name {
            fn put(&self, out: &mut Vec<u8>) { $( { let v = self.$f; v.put(out); } )* }
            fn get(b: &[u8], off: &mut usize) -> Self { $name { $($f: <$t>::get(b, off),)* } }
        }
        impl Default for $name {
            fn default() -> Self { Self::get(&[], &mut 0) }
        }
    };
}

packed_struct! {
    /// One e820 memory map entry (20 bytes).
    pub struct E820Entry {
        /// Start address.
        pub addr: u64,
        /// Length in bytes.
        pub size: u64,
        /// e820 type (1 RAM, 2 reserved, 3 ACPI, 4 NVS, ...).
        pub kind: u32,
    }
}

packed_struct! {
    /// EFI information handed over by an EFI boot loader (32 bytes at 0x1c0).
    pub struct EfiInfo {
        /// "EL64" for a 64-bit loader.
        pub efi_loader_signature: u32,
        /// EFI system table address, low 32 bits.
        pub efi_systab: u32,
        /// Size of one memory descriptor.
        pub efi_memdesc_size: u32,
        /// Memory descriptor version.
        pub efi_memdesc_version: u32,
        /// EFI memory map address, low 32 bits.
        pub efi_memmap: u32,
        /// EFI memory map size.
        pub efi_memmap_size: u32,
        /// EFI system table address, high 32 bits.
        pub efi_systab_hi: u32,
        /// EFI memory map address, high 32 bits.
        pub efi_memmap_hi: u32,
    }
}

packed_struct! {
    /// The setup header (boot protocol 2.15 layout, 123 bytes at 0x1f1).
    pub struct SetupHeaderRaw {
        /// Setup sectors.
        pub setup_sects: u8,
        /// Root read-only flag.
        pub root_flags: u16,
        /// Protected-mode size in 16-byte units.
        pub syssize: u32,
        /// Obsolete.
        pub ram_size: u16,
        /// Video mode.
        pub vid_mode: u16,
        /// Root device.
        pub root_dev: u16,
        /// 0xAA55.
        pub boot_flag: u16,
        /// Jump instruction.
        pub jump: u16,
        /// "HdrS".
        pub header: u32,
        /// Boot protocol version.
        pub version: u16,
        /// Real-mode switch hook.
        pub realmode_swtch: u32,
        /// Obsolete.
        pub start_sys_seg: u16,
        /// Pointer to the version string.
        pub kernel_version: u16,
        /// Boot loader type.
        pub type_of_loader: u8,
        /// Load flags.
        pub loadflags: u8,
        /// Obsolete.
        pub setup_move_size: u16,
        /// 32-bit entry / protected-mode load address.
        pub code32_start: u32,
        /// initrd address, low 32 bits.
        pub ramdisk_image: u32,
        /// initrd size, low 32 bits.
        pub ramdisk_size: u32,
        /// Obsolete.
        pub bootsect_kludge: u32,
        /// End of the setup heap.
        pub heap_end_ptr: u16,
        /// Extended loader version.
        pub ext_loader_ver: u8,
        /// Extended loader type.
        pub ext_loader_type: u8,
        /// Command line address, low 32 bits.
        pub cmd_line_ptr: u32,
        /// Highest initrd address.
        pub initrd_addr_max: u32,
        /// Kernel alignment.
        pub kernel_alignment: u32,
        /// Relocatable flag.
        pub relocatable_kernel: u8,
        /// Minimum alignment (log2).
        pub min_alignment: u8,
        /// 64-bit flags.
        pub xloadflags: u16,
        /// Maximum command line size.
        pub cmdline_size: u32,
        /// Hardware subarchitecture.
        pub hardware_subarch: u32,
        /// Subarchitecture data.
        pub hardware_subarch_data: u64,
        /// Payload offset.
        pub payload_offset: u32,
        /// Payload length.
        pub payload_length: u32,
        /// setup_data list head.
        pub setup_data: u64,
        /// Preferred load address.
        pub pref_address: u64,
        /// Memory needed until relocation.
        pub init_size: u32,
        /// EFI handover offset.
        pub handover_offset: u32,
        /// kernel_info offset.
        pub kernel_info_offset: u32,
    }
}

/// Number of e820 entries boot_params holds.
pub const E820_MAX: usize = 128;

packed_struct! {
    /// `struct boot_params` (4096 bytes).
    pub struct BootParams {
        /// struct screen_info.
        pub screen_info: [u8; 0x40],
        /// struct apm_bios_info.
        pub apm_bios_info: [u8; 0x14],
        /// Padding.
        pub _pad2: [u8; 4],
        /// tboot.
        pub tboot_addr: u64,
        /// struct ist_info.
        pub ist_info: [u8; 0x10],
        /// ACPI RSDP physical address (0 = let the kernel search).
        pub acpi_rsdp_addr: u64,
        /// Padding.
        pub _pad3: [u8; 8],
        /// Obsolete disk info.
        pub hd0_info: [u8; 16],
        /// Obsolete disk info.
        pub hd1_info: [u8; 16],
        /// struct sys_desc_table.
        pub sys_desc_table: [u8; 0x10],
        /// struct olpc_ofw_header.
        pub olpc_ofw_header: [u8; 0x10],
        /// initrd address, high 32 bits.
        pub ext_ramdisk_image: u32,
        /// initrd size, high 32 bits.
        pub ext_ramdisk_size: u32,
        /// Command line address, high 32 bits.
        pub ext_cmd_line_ptr: u32,
        /// Padding.
        pub _pad4: [u8; 112],
        /// Confidential computing blob.
        pub cc_blob_address: u32,
        /// struct edid_info.
        pub edid_info: [u8; 0x80],
        /// EFI information.
        pub efi_info: EfiInfo,
        /// Alternative memory size (KiB).
        pub alt_mem_k: u32,
        /// Scratch.
        pub scratch: u32,
        /// Number of valid e820 entries.
        pub e820_entries: u8,
        /// EDD entries.
        pub eddbuf_entries: u8,
        /// EDD MBR signatures.
        pub edd_mbr_sig_buf_entries: u8,
        /// Keyboard status.
        pub kbd_status: u8,
        /// Secure boot state.
        pub secure_boot: u8,
        /// Padding.
        pub _pad5: [u8; 2],
        /// Must be 0 for a boot loader that fills boot_params properly.
        pub sentinel: u8,
        /// Padding.
        pub _pad6: [u8; 1],
        /// The setup header.
        pub hdr: SetupHeaderRaw,
        /// Padding up to 0x290.
        pub _pad7: [u8; 0x290 - 0x1f1 - 123],
        /// EDD MBR signatures.
        pub edd_mbr_sig_buffer: [u32; 16],
        /// The e820 memory map.
        pub e820_table: [E820Entry; E820_MAX],
        /// Padding.
        pub _pad8: [u8; 48],
        /// EDD information.
        pub eddbuf: [u8; 6 * 82],
        /// Padding to 4096.
        pub _pad9: [u8; 276],
    }
}

const _: () = assert!(core::mem::size_of::<E820Entry>() == 20);
const _: () = assert!(core::mem::size_of::<EfiInfo>() == 32);
const _: () = assert!(core::mem::size_of::<SetupHeaderRaw>() == 123);
const _: () = assert!(core::mem::size_of::<BootParams>() == 4096);
const _: () = assert!(core::mem::offset_of!(BootParams, acpi_rsdp_addr) == 0x70);
const _: () = assert!(core::mem::offset_of!(BootParams, ext_ramdisk_image) == 0xc0);
const _: () = assert!(core::mem::offset_of!(BootParams, efi_info) == 0x1c0);
const _: () = assert!(core::mem::offset_of!(BootParams, e820_entries) == 0x1e8);
const _: () = assert!(core::mem::offset_of!(BootParams, hdr) == 0x1f1);
const _: () = assert!(core::mem::offset_of!(BootParams, e820_table) == 0x2d0);
const _: () = assert!(core::mem::offset_of!(BootParams, eddbuf) == 0xd00);
const _: () = assert!(core::mem::offset_of!(SetupHeaderRaw, header) == 0x202 - 0x1f1);
const _: () = assert!(core::mem::offset_of!(SetupHeaderRaw, init_size) == 0x260 - 0x1f1);

impl SetupHeaderRaw {
    /// Read from the header bytes of an image (starting at 0x1f1; shorter input is zero-padded).
    pub fn from_bytes(b: &[u8]) -> Self {
        Self::get(b, &mut 0)
    }
}

impl BootParams {
    /// The 4096 bytes of the zero page.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4096);
        self.put(&mut v);
        v
    }
    /// Parse 4096 bytes (for example /sys/kernel/boot_params/data; shorter input is zero-padded).
    pub fn from_bytes(b: &[u8]) -> Self {
        Self::get(b, &mut 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_offsets_match_the_struct() {
        let mut bp = BootParams {
            acpi_rsdp_addr: 0x1122_3344_5566_7788,
            e820_entries: 3,
            ..Default::default()
        };
        bp.hdr.boot_flag = 0xaa55;
        bp.hdr.init_size = 0xdead_beef;
        bp.e820_table[1] = E820Entry {
            addr: 0x10_0000,
            size: 0x1000,
            kind: 1,
        };
        let b = bp.to_bytes();
        assert_eq!(b.len(), 4096);
        assert_eq!(&b[0x70..0x78], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(b[0x1e8], 3);
        assert_eq!(&b[0x1fe..0x200], &[0x55, 0xaa]);
        assert_eq!(&b[0x260..0x264], &0xdead_beefu32.to_le_bytes());
        assert_eq!(&b[0x2d0 + 20..0x2d0 + 28], &0x10_0000u64.to_le_bytes());
        assert_eq!(BootParams::from_bytes(&b), bp);
    }

    #[test]
    fn real_boot_params_roundtrip() {
        // /sys/kernel/boot_params/data is harmless to read (root only on some systems).
        match std::fs::read("/sys/kernel/boot_params/data") {
            Ok(d) if d.len() == 4096 => assert_eq!(BootParams::from_bytes(&d).to_bytes(), d),
            other => test_skip::skip(
                "real_boot_params_roundtrip",
                format!(
                    "/sys/kernel/boot_params/data: {:?} (4096 bytes wanted)",
                    other.map(|d| d.len())
                ),
            ),
        }
    }
}
