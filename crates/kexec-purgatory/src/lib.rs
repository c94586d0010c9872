//! The kexec purgatory: code that runs between the old and the new kernel.
//!
//! The purgatory program (purgatory/purgatory.rs, `no_std`) is compiled by this crate's build
//! script into a relocatable x86_64 object, embedded as [`OBJECT`]. At load time
//! [`Purgatory::link`] lays it out, relocates it for its physical address and writes a typed
//! [`Params`] block: the registers for the jump (rip, rsi = boot_params, rsp), the SHA-256 region
//! table and digest, and the optional backup copy. In the new kernel's place, the purgatory
//! hashes every region, halts forever on a mismatch, copies the backup, and jumps.
//!
//! ```
//! use kexec_purgatory::{Params, Purgatory, Region, Sha256, OBJECT};
//! let data = b"kernel bytes";
//! let mut params = Params::empty();
//! params.entry_rip = 0x100_0200;
//! params.regions[0] = Region { start: 0x100_0000, len: data.len() as u64 };
//! params.region_count = 1;
//! let mut h = Sha256::new();
//! h.update(data);
//! params.digest = h.finish();
//! let purgatory = Purgatory::parse(OBJECT).unwrap();
//! let linked = purgatory.link(0x8000, &params).unwrap();
//! assert_eq!(linked.entry, 0x8000);
//! assert!(linked.mem_size >= linked.image.len() as u64);
//! assert_eq!(kexec_purgatory::MAX_SEGMENTS, 16);
//! ```
#![deny(missing_docs)]

mod link;
mod params;
mod sha256;

pub use link::{params_bytes, LinkError, Linked, Purgatory, DIGEST_OFFSET};
pub use params::{
    Params, Region, ENTRY_SECTION, MAX_REGIONS, PARAMS_MAGIC, PARAMS_SECTION, PARAMS_SIZE,
};
pub use sha256::Sha256;

/// The kernel accepts at most this many kexec segments (KEXEC_SEGMENT_MAX).
pub const MAX_SEGMENTS: usize = 16;

/// The purgatory as a relocatable x86_64 ELF object, built from purgatory/purgatory.rs.
pub static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/purgatory.o"));

#[cfg(test)]
#[allow(unsafe_code, dead_code, clippy::undocumented_unsafe_blocks)]
#[path = "../purgatory/vsha256.rs"]
mod vsha256;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_known_vectors() {
        let cases: [(&[u8], &str); 3] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
        ];
        for (msg, want) in cases {
            let mut h = Sha256::new();
            h.update(msg);
            assert_eq!(hex(&h.finish()), want);
        }
        let mut h = Sha256::new();
        h.update_zeros(1_000_000);
        let mut g = Sha256::new();
        g.update(&vec![0u8; 1_000_000]);
        assert_eq!(h.finish(), g.finish());
    }

    #[allow(unsafe_code)]
    fn purgatory_hash_matches(data: &[u8], digest: &[u8; 32]) -> bool {
        let mut scratch = [0u32; vsha256::SCRATCH_WORDS];
        // SAFETY: scratch is a local array of the required size.
        let mut v = unsafe { vsha256::VSha::new(scratch.as_mut_ptr()) };
        // Whole blocks through the memory path, the tail byte by byte (as the purgatory does).
        let whole = data.len() / 64;
        // SAFETY: data holds at least whole * 64 bytes.
        assert!(unsafe { v.blocks(data.as_ptr(), whole as u64) });
        for &b in &data[whole * 64..] {
            v.byte(b);
        }
        v.finish_matches(digest.as_ptr())
    }

    proptest! {
        #[test]
        fn host_and_purgatory_sha_agree(data in proptest::collection::vec(any::<u8>(), 0..700), split in 0usize..700, zeros in 0u64..300) {
            let mut h = Sha256::new();
            let cut = split.min(data.len());
            h.update(&data[..cut]);
            h.update(&data[cut..]);
            h.update_zeros(zeros);
            let d = h.finish();
            let mut all = data.clone();
            all.extend(std::iter::repeat_n(0u8, zeros as usize));
            prop_assert!(purgatory_hash_matches(&all, &d));
            let mut bad = d;
            bad[31] ^= 1;
            prop_assert!(!purgatory_hash_matches(&all, &bad));
        }
    }

    #[test]
    fn links_at_two_addresses_and_relocates() {
        let p = Purgatory::parse(OBJECT).unwrap();
        let mut params = Params::empty();
        params.entry_rip = 0x1234_5678;
        let a = p.link(0x10_0000, &params).unwrap();
        let b = p.link(0x7ff0_0000, &params).unwrap();
        assert_eq!(a.image.len(), b.image.len());
        assert_ne!(a.image, b.image, "relocation must change the image");
        // The parameter block is written verbatim at its offset.
        assert_eq!(
            &a.image[a.params_offset..a.params_offset + PARAMS_SIZE],
            &params_bytes(&params)[..]
        );
        assert!(
            p.mem_size() >= 16384,
            "the stack lives in the zero-filled tail"
        );
        assert!(p.link(0x10_0001, &params).is_err());
        // The entry code starts with cli; cld.
        assert_eq!(&a.image[..2], &[0xfa, 0xfc]);
    }

    #[test]
    fn object_has_no_vector_registers() {
        let dir = std::env::temp_dir().join(format!("kdumprs-purg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("purgatory.o");
        std::fs::write(&path, OBJECT).unwrap();
        let out = match std::process::Command::new("objdump")
            .arg("-d")
            .arg(&path)
            .output()
        {
            Ok(o) if o.status.success() => o,
            _ => {
                return test_skip::skip(
                    "object_has_no_vector_registers",
                    "objdump (binutils) not available",
                );
            }
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("kdumprs_purgatory_main"),
            "disassembly looks empty"
        );
        for bad in ["%xmm", "%ymm", "%zmm", "%mm"] {
            assert!(!text.contains(bad), "purgatory uses {bad}:\n{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_objects_are_errors() {
        assert!(Purgatory::parse(b"").is_err());
        assert!(Purgatory::parse(&OBJECT[..100]).is_err());
        let mut o = OBJECT.to_vec();
        o[16] = 2; // ET_EXEC
        assert!(Purgatory::parse(&o).is_err());
    }

    proptest! {
        #[test]
        fn mutated_objects_never_panic(pos in 0usize..4096, val in any::<u8>()) {
            let mut o = OBJECT.to_vec();
            let i = pos % o.len();
            o[i] = val;
            if let Ok(p) = Purgatory::parse(&o) {
                let _ = p.link(0x20_0000, &Params::empty());
            }
        }
    }
}
