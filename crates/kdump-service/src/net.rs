//! The network of an nfs or ssh target, recorded on the running system when the capture image
//! is built and set up again by `kdump init` in the capture kernel, with rtnetlink and no
//! helper program (no `ip`, no udev).
//!
//! - [`route_for`] reads /proc/net/route for the interface and gateway that reach the target;
//!   [`NetConfig::record`] adds that interface's MAC address and IPv4 address (an rtnetlink
//!   RTM_GETADDR dump), and whether the address was leased (DHCP) or permanent.
//! - [`NetConfig::apply`] finds the interface by its MAC address (names differ without udev:
//!   `ens3` becomes `eth0`), brings it and `lo` up, adds the address and the route, and waits
//!   (bounded) for the carrier.
//!
//! A leased address is set up again as it was (the capture kernel runs within the lease, with
//! the same MAC address); no DHCP client runs in the capture kernel.
//!
//! ```
//! use kdump_service::net::{route_for, NetConfig};
//! use std::net::Ipv4Addr;
//!
//! let routes = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
//!               ens3\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
//!               ens3\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
//! let r = route_for(routes, Ipv4Addr::new(192, 168, 1, 7)).unwrap();
//! assert_eq!((r.iface.as_str(), r.gateway), ("ens3", Some(Ipv4Addr::new(10, 0, 2, 2))));
//! let r = route_for(routes, Ipv4Addr::new(10, 0, 2, 2)).unwrap();
//! assert_eq!(r.gateway, None);
//!
//! let c = NetConfig::parse_lines(["net_mac=52:54:00:12:34:56", "net_address=10.0.2.15/24",
//!     "net_gateway=10.0.2.2", "net_leased=1"].into_iter()).unwrap().unwrap();
//! assert_eq!(c.prefix, 24);
//! assert_eq!(NetConfig::parse_lines(c.to_lines().iter().map(String::as_str)).unwrap(), Some(c));
//! ```

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

/// The IPv4 route to a target, from /proc/net/route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The interface.
    pub iface: String,
    /// The gateway, None for a directly connected network.
    pub gateway: Option<Ipv4Addr>,
}

/// The route /proc/net/route text gives for `dest`: the longest matching prefix (the lowest
/// metric among equals), up routes only.
pub fn route_for(text: &str, dest: Ipv4Addr) -> Option<Route> {
    // The kernel prints each address as the number its network-order bytes make in this
    // machine's memory: its native bytes are the address.
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    let mut best: Option<(u32, u32, Route)> = None;
    for line in text.lines().skip(1) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 8 {
            continue;
        }
        let (Some(dst), Some(gw), Some(flags), Some(mask)) = (
            hex(w[1]),
            hex(w[2]),
            u16::from_str_radix(w[3], 16).ok(),
            hex(w[7]),
        ) else {
            continue;
        };
        let metric: u32 = w[6].parse().unwrap_or(u32::MAX);
        if flags & 1 == 0 || u32::from(dest) & mask != dst & mask {
            continue;
        }
        let route = Route {
            iface: w[0].to_string(),
            gateway: (flags & 2 != 0 && gw != 0).then(|| Ipv4Addr::from(gw)),
        };
        let better = match &best {
            None => true,
            Some((m, met, _)) => {
                mask.count_ones() > m.count_ones() || (mask == *m && metric < *met)
            }
        };
        if better {
            best = Some((mask, metric, route));
        }
    }
    best.map(|(_, _, r)| r)
}

/// The network setup of the capture kernel for an nfs or ssh target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// The interface's MAC address, `aa:bb:cc:dd:ee:ff` (how the capture kernel finds it).
    pub mac: String,
    /// The IPv4 address.
    pub address: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// The gateway to the target, None when the target is on the local network.
    pub gateway: Option<Ipv4Addr>,
    /// The address was leased (DHCP) on the running system.
    pub leased: bool,
}

impl NetConfig {
    /// Parses the `net_*` lines of the capture info (others are ignored); `Ok(None)` when
    /// there are none.
    pub fn parse_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Option<Self>, String> {
        let (mut mac, mut addr, mut gw, mut leased) = (None, None, None, false);
        for l in lines {
            let Some((k, v)) = l.trim().split_once('=') else {
                continue;
            };
            match k {
                "net_mac" => mac = Some(v.to_ascii_lowercase()),
                "net_address" => {
                    let (a, p) = v
                        .split_once('/')
                        .ok_or_else(|| format!("net_address `{v}` is not ADDRESS/PREFIX"))?;
                    let a: Ipv4Addr = a.parse().map_err(|_| format!("net_address `{v}`"))?;
                    let p: u8 = p
                        .parse()
                        .ok()
                        .filter(|p| *p <= 32)
                        .ok_or_else(|| format!("net_address `{v}`: bad prefix"))?;
                    addr = Some((a, p));
                }
                "net_gateway" => {
                    gw = Some(v.parse().map_err(|_| format!("net_gateway `{v}`"))?);
                }
                "net_leased" => leased = v == "1",
                _ => {}
            }
        }
        match (mac, addr) {
            (Some(mac), Some((address, prefix))) => Ok(Some(NetConfig {
                mac,
                address,
                prefix,
                gateway: gw,
                leased,
            })),
            (None, None) => Ok(None),
            _ => Err("net_mac and net_address go together: one is missing".into()),
        }
    }

    /// The `net_*` lines [`parse_lines`](Self::parse_lines) reads.
    pub fn to_lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("net_mac={}", self.mac),
            format!("net_address={}/{}", self.address, self.prefix),
        ];
        if let Some(g) = self.gateway {
            v.push(format!("net_gateway={g}"));
        }
        v.push(format!("net_leased={}", u8::from(self.leased)));
        v
    }

    /// Records the running system's setup for reaching `dest`: the route from
    /// /proc/net/route, the interface's MAC from /sys/class/net, its IPv4 address from
    /// rtnetlink. `sys` is the root of /proc and /sys (`/` on a real system).
    pub fn record(sys: &Path, dest: Ipv4Addr) -> Result<(NetConfig, String), String> {
        let routes = std::fs::read_to_string(sys.join("proc/net/route"))
            .map_err(|e| format!("/proc/net/route: {e}"))?;
        let r = route_for(&routes, dest).ok_or_else(|| format!("no IPv4 route to {dest}"))?;
        let dir = sys.join("sys/class/net").join(&r.iface);
        let mac = std::fs::read_to_string(dir.join("address"))
            .map_err(|e| format!("{}/address: {e}", dir.display()))?
            .trim()
            .to_ascii_lowercase();
        let index: u32 = std::fs::read_to_string(dir.join("ifindex"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("{}/ifindex unreadable", dir.display()))?;
        let addrs = ipv4_addresses().map_err(|e| format!("rtnetlink address dump: {e}"))?;
        let a = addrs
            .iter()
            .find(|a| a.index == index)
            .ok_or_else(|| format!("{} has no IPv4 address", r.iface))?;
        Ok((
            NetConfig {
                mac,
                address: a.address,
                prefix: a.prefix,
                gateway: r.gateway,
                leased: a.leased,
            },
            r.iface,
        ))
    }

    /// Sets the network up in the capture kernel: waits up to `wait` for an interface with
    /// [`mac`](Self::mac) under `sys`/sys/class/net, brings `lo` and it up, adds the address
    /// and the route, and waits (within the same bound) for its carrier. Returns the
    /// interface's name.
    pub fn apply(&self, sys: &Path, wait: Duration) -> Result<String, String> {
        let start = Instant::now();
        let (name, index) = loop {
            if let Some(found) = find_by_mac(sys, &self.mac) {
                break found;
            }
            if start.elapsed() >= wait {
                return Err(format!(
                    "no network interface with MAC address {} appeared within {} s (is its \
                     driver in the image?)",
                    self.mac,
                    wait.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let nl = Netlink::open().map_err(|e| format!("rtnetlink: {e}"))?;
        nl.link_up(1).map_err(|e| format!("bringing lo up: {e}"))?;
        nl.link_up(index)
            .map_err(|e| format!("bringing {name} up: {e}"))?;
        nl.add_address(index, self.address, self.prefix)
            .map_err(|e| format!("adding {}/{} to {name}: {e}", self.address, self.prefix))?;
        if let Some(gw) = self.gateway {
            nl.add_default_route(index, gw)
                .map_err(|e| format!("adding the route via {gw} on {name}: {e}"))?;
        }
        let carrier = sys.join("sys/class/net").join(&name).join("carrier");
        while !std::fs::read_to_string(&carrier).is_ok_and(|s| s.trim() == "1") {
            if start.elapsed() >= wait {
                return Err(format!("{name} has no carrier after {} s", wait.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(name)
    }
}

/// The interface under `sys`/sys/class/net whose address is `mac`: (name, index).
fn find_by_mac(sys: &Path, mac: &str) -> Option<(String, u32)> {
    let dir = std::fs::read_dir(sys.join("sys/class/net")).ok()?;
    for e in dir.flatten() {
        let p = e.path();
        let a = std::fs::read_to_string(p.join("address")).unwrap_or_default();
        if a.trim().eq_ignore_ascii_case(mac) {
            let index = std::fs::read_to_string(p.join("ifindex"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            return Some((e.file_name().to_string_lossy().into_owned(), index));
        }
    }
    None
}

/// An IPv4 address of an interface, from an RTM_GETADDR dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// The interface index.
    pub index: u32,
    /// The address.
    pub address: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
    /// It has a finite lifetime (a DHCP lease).
    pub leased: bool,
}

/// The IPv4 addresses of every interface.
pub fn ipv4_addresses() -> io::Result<Vec<IfAddr>> {
    let nl = Netlink::open()?;
    let mut body = Vec::new();
    body.extend_from_slice(&[AF_INET, 0, 0, 0]);
    body.extend_from_slice(&0u32.to_ne_bytes());
    let replies = nl.request(RTM_GETADDR, NLM_F_DUMP, &body)?;
    Ok(replies
        .iter()
        .filter(|(t, _)| *t == RTM_NEWADDR)
        .filter_map(|(_, b)| parse_ifaddr(b))
        .collect())
}

/// Parses one RTM_NEWADDR body (ifaddrmsg + attributes); None when it is not a whole IPv4
/// address record.
pub fn parse_ifaddr(b: &[u8]) -> Option<IfAddr> {
    let head = b.get(..8)?;
    if head[0] != AF_INET {
        return None;
    }
    let prefix = head[1];
    let index = u32::from_ne_bytes(head[4..8].try_into().ok()?);
    let (mut local, mut addr, mut leased) = (None, None, false);
    for (t, v) in attributes(b.get(8..)?) {
        match t {
            IFA_LOCAL if v.len() == 4 => local = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            IFA_ADDRESS if v.len() == 4 => addr = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            IFA_CACHEINFO if v.len() >= 8 => {
                let valid = u32::from_ne_bytes(v[4..8].try_into().ok()?);
                leased = valid != u32::MAX;
            }
            _ => {}
        }
    }
    Some(IfAddr {
        index,
        address: local.or(addr)?,
        prefix,
        leased,
    })
}

/// The (type, value) attributes in `b` (rtattr records, 4-byte aligned); stops at the first
/// malformed one.
pub fn attributes(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let t = u16::from_ne_bytes([b[2], b[3]]);
        if len < 4 || len > b.len() {
            break;
        }
        out.push((t, &b[4..len]));
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    out
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

const AF_INET: u8 = 2;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_CACHEINFO: u16 = 6;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const IFF_UP: u32 = 1;
/// Most bytes read from one rtnetlink reply datagram.
const RECV_BUF: usize = 64 << 10;
/// Most reply messages read for one request (a dump of every address of a large host).
const MAX_REPLIES: usize = 100_000;

/// A NETLINK_ROUTE socket.
struct Netlink {
    fd: OwnedFd,
    seq: std::cell::Cell<u32>,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        // NETLINK_ROUTE is protocol 0: `None`.
        let fd = rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, None)?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        Ok(Netlink {
            fd,
            seq: std::cell::Cell::new(1),
        })
    }

    /// Sends one request and collects the replies until the ACK, the end of a dump or an
    /// error (returned as the error's errno).
    fn request(&self, kind: u16, flags: u16, body: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        let len = 16 + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        rustix::net::sendto(
            &self.fd,
            &msg,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let (n, _) = rustix::net::recv(&self.fd, &mut buf[..], RecvFlags::empty())?;
            let mut b = buf.get(..n).unwrap_or(&[]);
            while b.len() >= 16 {
                let mlen = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let mtype = u16::from_ne_bytes([b[4], b[5]]);
                let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
                if mlen < 16 || mlen > b.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated rtnetlink reply",
                    ));
                }
                let payload = &b[16..mlen];
                b = b.get(align4(mlen)..).unwrap_or(&[]);
                if mseq != seq {
                    continue;
                }
                match mtype {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = payload
                            .get(..4)
                            .map_or(0, |e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]));
                        return if errno == 0 {
                            Ok(out)
                        } else {
                            Err(io::Error::from_raw_os_error(-errno))
                        };
                    }
                    t => out.push((t, payload.to_vec())),
                }
                if out.len() > MAX_REPLIES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "too many rtnetlink replies",
                    ));
                }
            }
        }
    }

    fn link_up(&self, index: u32) -> io::Result<()> {
        let mut b = vec![0u8, 0];
        b.extend_from_slice(&0u16.to_ne_bytes());
        b.extend_from_slice(&(index as i32).to_ne_bytes());
        b.extend_from_slice(&IFF_UP.to_ne_bytes());
        b.extend_from_slice(&IFF_UP.to_ne_bytes());
        self.request(RTM_NEWLINK, 0, &b).map(drop)
    }

    fn add_address(&self, index: u32, a: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut b = vec![AF_INET, prefix, 0, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        attr(&mut b, IFA_LOCAL, &a.octets());
        attr(&mut b, IFA_ADDRESS, &a.octets());
        match self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &b) {
            Err(e) if e.raw_os_error() == Some(17) => Ok(()), // EEXIST: set already
            r => r.map(drop),
        }
    }

    fn add_default_route(&self, index: u32, gw: Ipv4Addr) -> io::Result<()> {
        // rtmsg: family, dst_len 0, src_len, tos, table main, protocol boot, scope universe,
        // type unicast, flags.
        let mut b = vec![AF_INET, 0, 0, 0, 254, 3, 0, 1];
        b.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut b, RTA_GATEWAY, &gw.octets());
        attr(&mut b, RTA_OIF, &index.to_ne_bytes());
        match self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &b) {
            Err(e) if e.raw_os_error() == Some(17) => Ok(()),
            r => r.map(drop),
        }
    }
}

/// Appends an rtattr of `kind` holding `v`, padded to 4 bytes.
fn attr(b: &mut Vec<u8>, kind: u16, v: &[u8]) {
    let len = 4 + v.len();
    b.extend_from_slice(&(len as u16).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(v);
    b.resize(align4(b.len()), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
        eth1\t00000000\t0102A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n\
        eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        eth2\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0\n";

    #[test]
    fn routes_longest_prefix_then_lowest_metric_up_only() {
        let r = route_for(ROUTES, Ipv4Addr::new(192, 168, 1, 9)).unwrap();
        assert_eq!((r.iface.as_str(), r.gateway), ("eth0", None));
        let r = route_for(ROUTES, Ipv4Addr::new(8, 8, 8, 8)).unwrap();
        assert_eq!(
            (r.iface.as_str(), r.gateway),
            ("eth1", Some(Ipv4Addr::new(192, 168, 2, 1)))
        );
        // eth2's route is down (flags 0): the default route wins
        assert_eq!(
            route_for(ROUTES, Ipv4Addr::new(10, 1, 1, 1)).unwrap().iface,
            "eth1"
        );
        assert_eq!(route_for("Iface\n", Ipv4Addr::LOCALHOST), None);
        assert_eq!(route_for("h\nx y z\n", Ipv4Addr::LOCALHOST), None);
    }

    #[test]
    fn ifaddr_records_parse_and_bad_ones_do_not() {
        let mut b = vec![AF_INET, 24, 0, 0];
        b.extend_from_slice(&3u32.to_ne_bytes());
        attr(&mut b, IFA_ADDRESS, &[10, 0, 2, 15]);
        attr(&mut b, IFA_LOCAL, &[10, 0, 2, 15]);
        let mut ci = Vec::new();
        for v in [3000u32, 3600, 0, 0] {
            ci.extend_from_slice(&v.to_ne_bytes());
        }
        attr(&mut b, IFA_CACHEINFO, &ci);
        let a = parse_ifaddr(&b).unwrap();
        assert_eq!(
            a,
            IfAddr {
                index: 3,
                address: Ipv4Addr::new(10, 0, 2, 15),
                prefix: 24,
                leased: true
            }
        );
        for n in 0..b.len() {
            let _ = parse_ifaddr(&b[..n]);
        }
        let mut v6 = b.clone();
        v6[0] = 10;
        assert_eq!(parse_ifaddr(&v6), None);
        // a length field past the end stops the walk
        assert!(attributes(&[200, 0, 1, 0, 9, 9]).is_empty());
    }

    #[test]
    fn the_host_loopback_address_is_found_through_rtnetlink() {
        let addrs = ipv4_addresses().expect("RTM_GETADDR dump");
        assert!(
            addrs
                .iter()
                .any(|a| a.address == Ipv4Addr::LOCALHOST && a.prefix == 8 && !a.leased),
            "{addrs:?}"
        );
    }

    #[test]
    fn net_config_lines_round_trip_and_half_a_config_is_an_error() {
        let c = NetConfig {
            mac: "52:54:00:12:34:56".into(),
            address: Ipv4Addr::new(10, 0, 2, 15),
            prefix: 24,
            gateway: None,
            leased: false,
        };
        assert_eq!(
            NetConfig::parse_lines(c.to_lines().iter().map(String::as_str)).unwrap(),
            Some(c)
        );
        assert!(NetConfig::parse_lines(["net_mac=aa"].into_iter()).is_err());
        assert!(
            NetConfig::parse_lines(["net_mac=aa", "net_address=1.2.3.4/33"].into_iter())
                .unwrap_err()
                .contains("prefix")
        );
        assert_eq!(NetConfig::parse_lines(["x=1"].into_iter()).unwrap(), None);
    }
}
