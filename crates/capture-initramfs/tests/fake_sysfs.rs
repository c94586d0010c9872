//! The sysfs walkers over fake trees shaped as the kernel lays them out (NVMe, virtio-scsi,
//! AHCI, dm-0 over two slaves, a bond), then resolved against the real 6.1 index.

mod common;

use capture_initramfs::{fs_needs, ImageBuilder, ModuleIndex, Need, Sysfs};
use std::os::unix::fs::symlink;
use std::path::Path;

struct Tree(tempfile::TempDir);

impl Tree {
    fn new() -> Self {
        Tree(tempfile::tempdir().unwrap())
    }
    fn root(&self) -> &Path {
        self.0.path()
    }
    /// A device directory with a bound driver (on `bus`, from `module`) and a modalias.
    fn dev(
        &self,
        path: &str,
        bus_driver: Option<(&str, &str, Option<&str>)>,
        modalias: Option<&str>,
    ) {
        let d = self.root().join("devices").join(path);
        std::fs::create_dir_all(&d).unwrap();
        if let Some((bus, driver, module)) = bus_driver {
            let drv = self
                .root()
                .join("bus")
                .join(bus)
                .join("drivers")
                .join(driver);
            std::fs::create_dir_all(&drv).unwrap();
            if let Some(m) = module {
                let md = self.root().join("module").join(m);
                std::fs::create_dir_all(&md).unwrap();
                if !drv.join("module").exists() {
                    symlink(&md, drv.join("module")).unwrap();
                }
            }
            symlink(&drv, d.join("driver")).unwrap();
        }
        if let Some(a) = modalias {
            std::fs::write(d.join("modalias"), format!("{a}\n")).unwrap();
        }
    }
    /// A block device at `path` (below devices/), its `device` link, and class/block/NAME.
    fn block(&self, path: &str, device: Option<&str>, partition: bool) {
        let d = self.root().join("devices").join(path);
        std::fs::create_dir_all(&d).unwrap();
        if let Some(dev) = device {
            symlink(self.root().join("devices").join(dev), d.join("device")).unwrap();
        }
        if partition {
            std::fs::write(d.join("partition"), "1\n").unwrap();
        }
        let cb = self.root().join("class/block");
        std::fs::create_dir_all(&cb).unwrap();
        symlink(&d, cb.join(d.file_name().unwrap())).unwrap();
    }
}

fn drivers(needs: &[Need]) -> Vec<&str> {
    needs.iter().map(|n| n.driver.as_str()).collect()
}

fn resolve_6_1(needs: &[Need]) -> Option<Vec<String>> {
    let ix = common::indexed("6.1.")?;
    let idx = ModuleIndex::load(ix.root.path(), &ix.kver).unwrap();
    let mut b = ImageBuilder::new().with_modules(idx);
    b.add_needs(needs).unwrap();
    Some(b.module_order().iter().map(|m| m.name.clone()).collect())
}

#[test]
fn nvme_partition() {
    let t = Tree::new();
    t.dev("pci0000:00", None, None);
    t.dev(
        "pci0000:00/0000:00:04.0",
        Some(("pci", "nvme", Some("nvme"))),
        Some("pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02"),
    );
    t.dev("pci0000:00/0000:00:04.0/nvme/nvme0", None, None);
    t.block(
        "pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1",
        Some("pci0000:00/0000:00:04.0/nvme/nvme0"),
        false,
    );
    t.block(
        "pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1",
        None,
        true,
    );
    let needs = Sysfs::new(t.root()).block_needs("/dev/nvme0n1p1").unwrap();
    assert_eq!(drivers(&needs), ["nvme"]);
    assert_eq!(
        needs[0].reason,
        "/dev/nvme0n1p1: disk nvme0n1: driver nvme (from /sys/devices/pci0000:00/0000:00:04.0)"
    );
    assert_eq!(needs[0].candidates[0], "nvme");
    if let Some(order) = resolve_6_1(&needs) {
        // Debian 6.1: nvme_core needs t10_pi and its CRC modules (softdeps included)
        assert!(
            order.ends_with(&["nvme_core".to_string(), "nvme".to_string()]),
            "{order:?}"
        );
        assert!(order.contains(&"t10_pi".to_string()), "{order:?}");
    }
}

fn scsi_tree(t: &Tree) {
    // virtio-scsi: pci -> virtio2 -> host0 -> target0:0:0 -> 0:0:0:0 (sd) -> block/sda/sda2
    t.dev(
        "pci0000:00/0000:00:05.0",
        Some(("pci", "virtio-pci", Some("virtio_pci"))),
        Some("pci:v00001AF4d00001004sv00001AF4sd00000008bc01sc00i00"),
    );
    t.dev(
        "pci0000:00/0000:00:05.0/virtio2",
        Some(("virtio", "virtio_scsi", Some("virtio_scsi"))),
        Some("virtio:d00000008v00001AF4"),
    );
    t.dev(
        "pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0",
        Some(("scsi", "sd", Some("sd_mod"))),
        Some("scsi:t-0x00"),
    );
    t.block(
        "pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda",
        Some("pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0"),
        false,
    );
    t.block(
        "pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda/sda2",
        None,
        true,
    );
    // virtio-blk: vda/vda2
    t.dev(
        "pci0000:00/0000:00:02.0",
        Some(("pci", "virtio-pci", Some("virtio_pci"))),
        Some("pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00"),
    );
    t.dev(
        "pci0000:00/0000:00:02.0/virtio1",
        Some(("virtio", "virtio_blk", Some("virtio_blk"))),
        Some("virtio:d00000002v00001AF4"),
    );
    t.block(
        "pci0000:00/0000:00:02.0/virtio1/block/vda",
        Some("pci0000:00/0000:00:02.0/virtio1"),
        false,
    );
    t.block("pci0000:00/0000:00:02.0/virtio1/block/vda/vda2", None, true);
}

#[test]
fn virtio_scsi_disk() {
    let t = Tree::new();
    scsi_tree(&t);
    let needs = Sysfs::new(t.root()).block_needs("sda2").unwrap();
    assert_eq!(drivers(&needs), ["sd", "virtio_scsi", "virtio-pci"]);
    assert_eq!(needs[0].candidates, ["sd_mod", "sd", "scsi:t-0x00"]);
    assert!(needs[0].reason.starts_with("sda2: disk sda: driver sd (from /sys/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0)"));
    if let Some(order) = resolve_6_1(&needs) {
        for m in [
            "sd_mod",
            "virtio_scsi",
            "virtio_pci",
            "virtio",
            "virtio_ring",
            "scsi_mod",
        ] {
            assert!(order.contains(&m.to_string()), "{m}: {order:?}");
        }
        let pos = |m: &str| order.iter().position(|x| x == m).unwrap();
        assert!(pos("scsi_mod") < pos("sd_mod") && pos("virtio_ring") < pos("virtio_scsi"));
    }
}

#[test]
fn ahci_disk() {
    let t = Tree::new();
    t.dev(
        "pci0000:00/0000:00:1f.2",
        Some(("pci", "ahci", Some("ahci"))),
        Some("pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01"),
    );
    t.dev("pci0000:00/0000:00:1f.2/ata1", None, None);
    t.dev(
        "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0",
        Some(("scsi", "sd", Some("sd_mod"))),
        Some("scsi:t-0x00"),
    );
    t.block(
        "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sdb",
        Some("pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0"),
        false,
    );
    let needs = Sysfs::new(t.root()).block_needs("sdb").unwrap();
    assert_eq!(drivers(&needs), ["sd", "ahci"]);
    if let Some(order) = resolve_6_1(&needs) {
        for m in ["sd_mod", "ahci", "libahci", "libata", "scsi_mod"] {
            assert!(order.contains(&m.to_string()), "{m}: {order:?}");
        }
    }
}

#[test]
fn dm_over_two_slaves() {
    let t = Tree::new();
    scsi_tree(&t);
    t.dev("virtual/block/dm-0/dm", None, None);
    let dm = t.root().join("devices/virtual/block/dm-0");
    std::fs::write(dm.join("dm/uuid"), "CRYPT-LUKS2-0123-root\n").unwrap();
    std::fs::create_dir_all(dm.join("slaves")).unwrap();
    symlink(
        t.root()
            .join("devices/pci0000:00/0000:00:02.0/virtio1/block/vda/vda2"),
        dm.join("slaves/vda2"),
    )
    .unwrap();
    symlink(
        t.root().join(
            "devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda/sda2",
        ),
        dm.join("slaves/sda2"),
    )
    .unwrap();
    std::fs::create_dir_all(t.root().join("class/block")).unwrap();
    symlink(&dm, t.root().join("class/block/dm-0")).unwrap();
    let needs = Sysfs::new(t.root()).block_needs("dm-0").unwrap();
    let cands: Vec<&str> = needs.iter().map(|n| n.candidates[0].as_str()).collect();
    // virtio_pci twice: two PCI functions (different modaliases), each with its own reason
    assert_eq!(
        cands,
        [
            "dm_mod",
            "dm_crypt",
            "sd_mod",
            "virtio_scsi",
            "virtio_pci",
            "virtio_blk",
            "virtio_pci"
        ]
    );
    let vblk = needs.iter().find(|n| n.driver == "virtio_blk").unwrap();
    assert!(
        vblk.reason
            .starts_with("dm-0: slave vda2: disk vda: driver virtio_blk (from /sys/devices/"),
        "{}",
        vblk.reason
    );
    if let Some(order) = resolve_6_1(&needs) {
        for m in ["dm_mod", "dm_crypt", "virtio_blk", "sd_mod"] {
            assert!(order.contains(&m.to_string()), "{m}: {order:?}");
        }
    }
}

#[test]
fn network_interfaces() {
    let t = Tree::new();
    t.dev(
        "pci0000:00/0000:00:03.0",
        Some(("pci", "e1000", Some("e1000"))),
        Some("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"),
    );
    t.dev("pci0000:00/0000:00:03.0/net/ens3", None, None);
    let ens3 = t.root().join("devices/pci0000:00/0000:00:03.0/net/ens3");
    symlink(
        t.root().join("devices/pci0000:00/0000:00:03.0"),
        ens3.join("device"),
    )
    .unwrap();
    t.dev("virtual/net/bond0/bonding", None, None);
    let bond = t.root().join("devices/virtual/net/bond0");
    symlink(&ens3, bond.join("lower_ens3")).unwrap();
    std::fs::create_dir_all(t.root().join("class/net")).unwrap();
    symlink(&ens3, t.root().join("class/net/ens3")).unwrap();
    symlink(&bond, t.root().join("class/net/bond0")).unwrap();
    let sys = Sysfs::new(t.root());
    let needs = sys.net_needs("bond0").unwrap();
    assert_eq!(drivers(&needs), ["bonding", "e1000"]);
    assert_eq!(
        needs[1].reason,
        "bond0: lower ens3: driver e1000 (from /sys/devices/pci0000:00/0000:00:03.0)"
    );
    assert!(sys.net_needs("nosuch0").is_err());
    if let Some(order) = resolve_6_1(&needs) {
        assert!(
            order.contains(&"bonding".to_string()) && order.contains(&"e1000".to_string()),
            "{order:?}"
        );
    }
}

#[test]
fn file_systems() {
    let n = fs_needs("ext3");
    assert_eq!(n[0].candidates, ["ext4"]);
    let n = fs_needs("nfs4");
    assert_eq!(
        n.iter()
            .map(|n| n.candidates[0].as_str())
            .collect::<Vec<_>>(),
        ["nfs", "nfsv4"]
    );
    assert_eq!(fs_needs("f2fs")[0].candidates, ["fs-f2fs", "f2fs"]);
    if let Some(order) = resolve_6_1(&[fs_needs("nfs"), fs_needs("xfs"), fs_needs("f2fs")].concat())
    {
        for m in ["sunrpc", "nfs", "nfsv3", "xfs", "f2fs"] {
            assert!(order.contains(&m.to_string()), "{m}: {order:?}");
        }
    }
}
