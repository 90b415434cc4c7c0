//! Where webhooks may go: no SSRF. A `webhook_url` whose host is, or
//! resolves to, a loopback, link-local (cloud metadata), unspecified,
//! multicast or broadcast address is refused; private and shared ranges
//! (RFC 1918, CGNAT, fc00::/7), which internal backends use, only when the
//! operator lists the host or its network, or allows private targets.
//!
//! One exception to loopback, for a backend on the server's own host: a
//! listed `localhost:PORT`, `127.x.y.z:PORT` or `[::1]:PORT` makes exactly
//! that port of those addresses a target (`localhost` is 127.0.0.1 and ::1,
//! never asked of a resolver). Any other loopback port, a name other than
//! `localhost` that resolves to loopback, and every other never-a-target
//! address stay refused; listing one of the latter is refused at start-up.
//!
//! The same [`TargetPolicy`] checks a URL at registration and resolves every
//! delivery's host ([`TargetPolicy`] is the sender's DNS resolver), so a
//! delivery connects only to an address that passed, and a policy tightened
//! later stops deliveries to URLs stored before.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use payments_application::WebhookTargets;
use payments_domain::WebhookUrl;

/// Longest a registration waits for a webhook host to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The addresses of `localhost`, fixed (RFC 6761 6.3 lets a resolver answer
/// them without asking): a listed `localhost:PORT` means these two, whatever
/// `/etc/hosts` or a DNS server says.
const LOCALHOST: [IpAddr; 2] = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];

/// The addresses `host` is without asking a resolver: `localhost`'s, or the
/// address it is.
fn fixed_addresses(host: &str) -> Option<Vec<IpAddr>> {
    if host == "localhost" { Some(LOCALHOST.to_vec()) } else { host.parse().ok().map(|ip| vec![ip]) }
}

/// One entry of `PAYMENT_WEBHOOK_ALLOWED_HOSTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `10.0.0.0/8`, `fd00::/8`.
    Network(Network),
    /// `host`, `host:port`, `[v6]` or `[v6]:port`: the host lower-case, an
    /// address in its canonical text (`[0:0::1]` is `::1`).
    Host(String, Option<u16>),
}

impl Entry {
    /// # Errors
    /// Why `entry` (trimmed, lower-case) is none of the forms.
    fn parse(entry: &str) -> Result<Self, String> {
        if entry.contains('/') {
            return Network::parse(entry)
                .map(Self::Network)
                .ok_or_else(|| format!("{entry:?} is not a network like 10.0.0.0/8"));
        }
        let port = |text: &str| match text.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("{entry:?}: the port is not a number from 1 to 65535")),
        };
        let (host, port) = if let Some(bracketed) = entry.strip_prefix('[') {
            // `[v6]` or `[v6]:port`.
            let (address, rest) =
                bracketed.split_once(']').ok_or_else(|| format!("{entry:?}: an IPv6 address misses its ']'"))?;
            let address: Ipv6Addr =
                address.parse().map_err(|_| format!("{entry:?}: {address:?} is not an IPv6 address"))?;
            let port = match rest {
                "" => None,
                _ => Some(port(rest.strip_prefix(':').ok_or_else(|| format!("{entry:?} is not [address]:port"))?)?),
            };
            (address.to_string(), port)
        } else if let Some((host, text)) = entry.rsplit_once(':').filter(|(host, _)| !host.contains(':')) {
            (host.to_owned(), Some(port(text)?))
        } else {
            // A name, an IPv4 address, or an IPv6 one without brackets (no port).
            (entry.to_owned(), None)
        };
        if host.is_empty() || host.contains(['@', '?', '#', ' ', '[', ']']) {
            return Err(format!("{entry:?} is not a host"));
        }
        let host = host.parse::<IpAddr>().map_or(host, |ip| ip.to_string());
        Ok(Self::Host(host, port))
    }
}

/// A network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Self> {
        let (base, prefix) = text.split_once('/')?;
        let base: IpAddr = base.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { base, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, canonical(ip)) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv6 address that carries an IPv4 one reaches that IPv4 address, so
/// it is judged as that address: IPv4-mapped (`::ffff:127.0.0.1`),
/// IPv4-compatible (`::127.0.0.1`, deprecated), SIIT's IPv4-translated
/// (`::ffff:0:a.b.c.d`, `::ffff:0:0/96`, RFC 2765), NAT64 (`64:ff9b::/96`,
/// RFC 6052), local-use NAT64 (`64:ff9b:1::/48`, RFC 8215) and 6to4
/// (`2002::/16`, RFC 3056).
///
/// RFC 8215 leaves the prefix length inside `64:ff9b:1::/48` to the operator
/// (any RFC 6052 length from /48 to /96, so the IPv4 address may sit in
/// other bits); it is judged here by its last 32 bits, as under the
/// well-known `/96` prefix: the form a translator with a `/96` uses, and the
/// one a metadata address written by hand takes (`64:ff9b:1::a9fe:a9fe`).
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    };
    let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
    let translated = s[..6] == [0, 0, 0, 0, 0xffff, 0];
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let local_nat64 = s[..3] == [0x64, 0xff9b, 1];
    if let Some(mapped) = v6.to_ipv4_mapped() {
        IpAddr::V4(mapped)
    } else if compatible || translated || nat64 || local_nat64 {
        v4(s[6], s[7])
    } else if s[0] == 0x2002 {
        v4(s[1], s[2])
    } else {
        ip
    }
}

/// What an address is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Public,
    /// Private or shared: allowed when listed or opted in.
    Private,
    /// Never a webhook target outside local mode.
    Forbidden(&'static str),
}

fn classify(ip: IpAddr) -> Class {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Class::Forbidden("a loopback address")
    } else if ip.is_link_local() {
        Class::Forbidden("a link-local address (cloud metadata lives there)")
    } else if ip.is_unspecified() || a == 0 {
        Class::Forbidden("an unspecified address")
    } else if ip.is_multicast() {
        Class::Forbidden("a multicast address")
    } else if ip.is_broadcast() {
        Class::Forbidden("the broadcast address")
    } else if a >= 240 {
        Class::Forbidden("a reserved address (240.0.0.0/4)")
    } else if ip.is_documentation() || (a, b, ip.octets()[2]) == (192, 0, 0) {
        Class::Forbidden("a documentation or protocol-assignment address")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) || (a == 198 && (b == 18 || b == 19)) {
        // RFC 1918, CGNAT (100.64.0.0/10), benchmarking (198.18.0.0/15).
        Class::Private
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Class::Forbidden("a loopback address")
    } else if ip.is_unspecified() {
        Class::Forbidden("an unspecified address")
    } else if ip.is_multicast() {
        Class::Forbidden("a multicast address")
    } else if first & 0xffc0 == 0xfe80 {
        Class::Forbidden("a link-local address")
    } else if ip.segments()[..2] == [0x2001, 0] {
        Class::Forbidden("a Teredo tunnel address (it hides the address it reaches)")
    } else if first == 0x2001 && ip.segments()[1] == 0xdb8 {
        Class::Forbidden("a documentation address")
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        // Unique local (fc00::/7) and the deprecated site-local (fec0::/10).
        Class::Private
    } else {
        Class::Public
    }
}

/// Where webhooks may be sent.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    /// Listed hosts, lower-case, with the port when one was given: when any
    /// is listed, only these hosts are targets.
    hosts: Vec<(String, Option<u16>)>,
    /// Listed networks: their addresses are targets even when private.
    networks: Vec<Network>,
    /// Listed loopback ports (`localhost:PORT`, `127.0.0.1:PORT`,
    /// `[::1]:PORT`): exactly these address and port pairs are targets.
    loopback: Vec<(IpAddr, u16)>,
    /// Private and shared ranges are targets without being listed.
    allow_private: bool,
    /// Local mode: every address is a target (the walkthrough's receiver is
    /// on loopback); listed hosts still restrict the targets.
    local: bool,
}

impl TargetPolicy {
    /// The policy of `entries` (`PAYMENT_WEBHOOK_ALLOWED_HOSTS`: hosts,
    /// `host:port`, `[v6]:port` or CIDR networks), `allow_private`
    /// (`PAYMENT_WEBHOOK_ALLOW_PRIVATE`) and the mode.
    ///
    /// A host is a listed host (when any is listed, only listed hosts are
    /// targets); `localhost`, `127.x.y.z` or `::1` with a port also makes
    /// that port of that loopback address (of 127.0.0.1 and ::1 for
    /// `localhost`, both spellings of which are then listed hosts) a target,
    /// in every mode. Without a port a loopback entry opens no loopback port.
    ///
    /// # Errors
    /// The entry that is none of the forms, and an address that is never a
    /// target but loopback (link-local where cloud metadata lives,
    /// unspecified, multicast and the rest): listing it would open nothing,
    /// and an operator who wrote it meant something else.
    pub fn new(entries: &[String], allow_private: bool, local: bool) -> Result<Self, String> {
        let mut policy = Self { allow_private, local, ..Self::default() };
        for entry in entries.iter().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()) {
            let (host, port) = match Entry::parse(&entry)? {
                Entry::Network(network) => {
                    policy.networks.push(network);
                    continue;
                }
                Entry::Host(host, port) => (host, port),
            };
            if let Ok(ip) = host.parse::<IpAddr>()
                && let Class::Forbidden(what) = classify(ip)
                && !ip.is_loopback()
            {
                return Err(format!(
                    "{entry:?} is {what}: never a webhook target, listed or not (only a loopback port can be listed, as localhost:PORT)"
                ));
            }
            let loopback = match host.as_str() {
                "localhost" => LOCALHOST.to_vec(),
                _ => host.parse::<IpAddr>().ok().filter(IpAddr::is_loopback).into_iter().collect(),
            };
            if let Some(port) = port {
                for ip in loopback {
                    policy.loopback.push((ip, port));
                    policy.hosts.push((ip.to_string(), Some(port)));
                }
            }
            policy.hosts.push((host, port));
        }
        Ok(policy)
    }

    /// Any address (local mode).
    pub fn local() -> Self {
        Self { local: true, ..Self::default() }
    }

    fn listed(&self, host: &str, port: Option<u16>) -> bool {
        self.hosts.iter().any(|(h, p)| h == host && (p.is_none() || port.is_none() || *p == port))
    }

    /// Why `host:port` may not be a target by name, if it may not: when
    /// hosts are listed (in every mode), it must be one of them, or an
    /// address of a listed network.
    fn refuse_name(&self, host: &str, port: Option<u16>) -> Option<String> {
        let in_network = || host.parse::<IpAddr>().is_ok_and(|ip| self.networks.iter().any(|n| n.contains(ip)));
        (!self.hosts.is_empty() && !self.listed(host, port) && !in_network())
            .then(|| format!("host {host:?} is not in PAYMENT_WEBHOOK_ALLOWED_HOSTS"))
    }

    /// `ip` on `port` is a listed loopback target and `host` names it
    /// deliberately: `localhost` or the address itself, never another name
    /// (whoever controls its DNS could point it at any local port). With no
    /// `port` (the resolver's case: it is not told the port), any listed
    /// port of `ip` will do; the URL's port was checked before sending, with
    /// the addresses of `localhost` and of a literal host.
    fn loopback_listed(&self, host: &str, ip: IpAddr, port: Option<u16>) -> bool {
        ip.is_loopback()
            && (host == "localhost" || host.parse::<IpAddr>().is_ok())
            && self.loopback.iter().any(|&(listed, p)| listed == ip && port.is_none_or(|port| port == p))
    }

    /// Why `ip`, an address of `host`, may not be a target on `port` (any
    /// listed port when `None`), if it may not.
    fn refuse_address(&self, host: &str, ip: IpAddr, port: Option<u16>) -> Option<String> {
        if self.local {
            return None;
        }
        match classify(ip) {
            Class::Public => None,
            Class::Forbidden(_) if self.loopback_listed(host, ip, port) => None,
            Class::Forbidden(what) if canonical(ip).is_loopback() => Some(format!(
                "{host} is {what} ({ip}); only localhost or a loopback address listed with this port in PAYMENT_WEBHOOK_ALLOWED_HOSTS is a target"
            )),
            Class::Forbidden(what) => Some(format!("{host} is {what} ({ip})")),
            Class::Private
                if self.allow_private || self.listed(host, None) || self.networks.iter().any(|n| n.contains(ip)) =>
            {
                None
            }
            Class::Private => Some(format!(
                "{host} is a private address ({ip}); list it in PAYMENT_WEBHOOK_ALLOWED_HOSTS or set PAYMENT_WEBHOOK_ALLOW_PRIVATE"
            )),
        }
    }

    /// Why `url` may not be a target now, resolving its host: refused when
    /// any of its addresses is.
    pub async fn check(&self, url: &WebhookUrl) -> Option<String> {
        if let Some(why) = self.refuse_before_sending(url) {
            return Some(why);
        }
        let (host, port) = (url.host(), url.port());
        // In local mode no address is refused, and a literal one (or
        // localhost's) was checked.
        if self.local || fixed_addresses(&host).is_some() {
            return None;
        }
        let addresses =
            match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await {
                Ok(Ok(addresses)) => addresses.collect::<Vec<_>>(),
                Ok(Err(_)) => return Some(format!("host {host:?} does not resolve")),
                Err(_) => return Some(format!("host {host:?} did not resolve within {RESOLVE_TIMEOUT:?}")),
            };
        if addresses.is_empty() {
            return Some(format!("host {host:?} has no address"));
        }
        addresses.iter().find_map(|address| self.refuse_address(&host, address.ip(), Some(port)))
    }

    /// The addresses of `host` a delivery may connect to.
    ///
    /// # Errors
    /// Why there is none.
    async fn targets(&self, host: &str) -> Result<Vec<SocketAddr>, String> {
        if let Some(why) = self.refuse_name(host, None) {
            return Err(why);
        }
        let found: Vec<SocketAddr> = match fixed_addresses(host) {
            Some(fixed) => fixed.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
            None => tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("{host}: {e}"))?.collect(),
        };
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.into_iter().partition(|address| self.refuse_address(host, address.ip(), None).is_none());
        match (allowed.is_empty(), refused.first()) {
            (false, _) => Ok(allowed),
            (true, Some(first)) => Err(self.refuse_address(host, first.ip(), None).unwrap_or_default()),
            (true, None) => Err(format!("{host} has no address")),
        }
    }

    /// Why the URL a delivery is about to POST to may not be used, before
    /// any resolution: its host by name, and its address when it is one (an
    /// address is connected to without asking the resolver) or both of
    /// `localhost`'s (the resolver answers them, but is not told the port).
    pub fn refuse_before_sending(&self, url: &WebhookUrl) -> Option<String> {
        let (host, port) = (url.host(), url.port());
        if let Some(why) = self.refuse_name(&host, Some(port)) {
            return Some(why);
        }
        fixed_addresses(&host)?.into_iter().find_map(|ip| self.refuse_address(&host, ip, Some(port)))
    }
}

#[async_trait]
impl WebhookTargets for TargetPolicy {
    async fn refusal(&self, url: &WebhookUrl) -> Option<String> {
        self.check(url).await
    }
}

/// The sender's resolver: a delivery connects only to addresses that pass.
#[derive(Debug, Clone)]
pub(crate) struct CheckedResolver(pub(crate) std::sync::Arc<TargetPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            match policy.targets(&host).await {
                Ok(addresses) => Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs),
                Err(why) => Err(why.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> WebhookUrl {
        WebhookUrl::parse(text).unwrap()
    }

    fn strict() -> TargetPolicy {
        TargetPolicy::new(&[], false, false).unwrap()
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_however_they_are_written() {
        let policy = strict();
        for target in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:5432/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0.0.0.0/",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[fe80::1]/hook",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://localhost:37821/hook",
            // IPv4 inside IPv6: compatible, NAT64, 6to4.
            "http://[::127.0.0.1]/hook",
            "http://[::a9fe:a9fe]/latest/meta-data",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "http://[64:ff9b::127.0.0.1]/",
            "http://[2002:7f00:1::]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            // SIIT's IPv4-translated form and local-use NAT64 (its IPv4 in
            // the last 32 bits), around the metadata address and loopback.
            "http://[::ffff:0:a9fe:a9fe]/latest/meta-data",
            "http://[::ffff:0:169.254.169.254]/latest/meta-data",
            "http://[::ffff:0:7f00:1]/",
            "http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data",
            "http://[64:ff9b:1:ffff::169.254.169.254]/",
            "http://[64:ff9b:1::127.0.0.1]/",
            // Reserved and documentation ranges.
            "http://240.0.0.1/",
            "http://192.0.0.170/",
            "http://192.0.2.1/",
            "http://203.0.113.9/",
            "http://[2001:db8::1]/",
        ] {
            let why = policy.check(&url(target)).await;
            assert!(why.is_some(), "{target} was allowed");
        }
        assert!(policy.check(&url("http://93.184.216.34/hook")).await.is_none(), "a public address");
    }

    #[tokio::test]
    async fn private_ranges_need_listing_or_the_opt_in() {
        for target in [
            "http://10.1.2.3/",
            "http://172.16.0.9/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://198.18.0.1/",
            "http://[fd00::1]/",
            "http://[fec0::1]/",
            "http://[64:ff9b::a01:203]/",
            "http://[::ffff:0:a01:203]/",
            "http://[64:ff9b:1::a01:203]/",
            "http://[2002:c0a8:101::]/",
        ] {
            let why = strict().check(&url(target)).await.unwrap_or_default();
            assert!(why.contains("private"), "{target}: {why}");
            let opted_in = TargetPolicy::new(&[], true, false).unwrap();
            assert_eq!(opted_in.check(&url(target)).await, None, "{target}");
        }
        let listed = TargetPolicy::new(&["10.0.0.0/8".into(), "192.168.1.1".into()], false, false).unwrap();
        assert_eq!(listed.check(&url("http://10.200.0.1:8080/hook")).await, None);
        assert_eq!(listed.check(&url("http://192.168.1.1/hook")).await, None);
        // Listing hosts restricts targets to them; a network admits its addresses.
        assert!(listed.check(&url("http://172.16.0.9/hook")).await.is_some());
        // The opt-in never opens loopback or metadata.
        let opted_in = TargetPolicy::new(&[], true, false).unwrap();
        assert!(opted_in.check(&url("http://169.254.169.254/")).await.is_some());
    }

    #[tokio::test]
    async fn listed_hosts_may_name_their_port() {
        let policy = TargetPolicy::new(&["93.184.216.34:8443".into()], false, false).unwrap();
        assert_eq!(policy.check(&url("https://93.184.216.34:8443/hook")).await, None);
        let why = policy.check(&url("https://93.184.216.34:9000/hook")).await.unwrap();
        assert!(why.contains("ALLOWED_HOSTS"), "{why}");
        assert!(TargetPolicy::new(&["10.0.0.0/33".into()], false, false).is_err());
        assert!(TargetPolicy::new(&["host:port".into()], false, false).is_err());
    }

    #[tokio::test]
    async fn local_mode_keeps_loopback() {
        assert_eq!(TargetPolicy::local().check(&url("http://127.0.0.1:9/hook")).await, None);
        assert_eq!(TargetPolicy::local().refuse_before_sending(&url("http://[::1]:9/hook")), None);
        assert!(strict().refuse_before_sending(&url("http://127.0.0.1:9/hook")).is_some());
    }

    fn listing(entries: &[&str]) -> TargetPolicy {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        TargetPolicy::new(&entries, false, false).unwrap()
    }

    /// Registration's answer and the sender's own check before the POST.
    async fn allowed(policy: &TargetPolicy, target: &str) -> bool {
        let at_registration = policy.check(&url(target)).await.is_none();
        let before_sending = policy.refuse_before_sending(&url(target)).is_none();
        assert!(!at_registration || before_sending, "{target}: registration allowed what sending refuses");
        at_registration
    }

    #[tokio::test]
    async fn a_listed_loopback_port_is_a_target_and_no_other() {
        let by_name = listing(&["localhost:8080"]);
        for target in ["http://localhost:8080/hook", "http://127.0.0.1:8080/hook", "http://[::1]:8080/hook"] {
            assert!(allowed(&by_name, target).await, "{target}");
        }
        let by_v4 = listing(&["127.0.0.1:8080"]);
        assert!(allowed(&by_v4, "http://127.0.0.1:8080/hook").await);
        let by_v6 = listing(&["[::1]:8080"]);
        assert!(allowed(&by_v6, "http://[::1]:8080/hook").await);
        assert!(allowed(&by_v6, "http://[0:0:0:0:0:0:0:1]:8080/hook").await, "the same address, written long");
        assert!(allowed(&listing(&["[0::1]:8080"]), "http://[::1]:8080/hook").await, "the entry, written long");
        for (policy, target) in [
            // The same host, another port: the metrics listener, a database.
            (&by_name, "http://localhost:9090/hook"),
            (&by_name, "http://127.0.0.1:5432/"),
            (&by_name, "http://[::1]:9090/hook"),
            (&by_name, "http://127.0.0.1/hook"),
            // Another loopback address on the listed port.
            (&by_name, "http://127.0.0.2:8080/hook"),
            (&by_v4, "http://127.0.0.2:8080/hook"),
            // localhost is 127.0.0.1 and ::1: listing one of them is not listing it.
            (&by_v4, "http://localhost:8080/hook"),
            (&by_v4, "http://[::1]:8080/hook"),
            (&by_v6, "http://127.0.0.1:8080/hook"),
            // The listed port behind another spelling that reaches it.
            (&by_v4, "http://[::ffff:127.0.0.1]:8080/hook"),
            (&by_v4, "http://[::127.0.0.1]:8080/hook"),
            (&by_v4, "http://0.0.0.0:8080/hook"),
            // Everything else internal stays refused.
            (&by_name, "http://169.254.169.254:8080/latest/meta-data"),
            (&by_name, "http://[fe80::1]:8080/"),
        ] {
            assert!(!allowed(policy, target).await, "{target} was allowed");
        }
        // Listing a host restricts targets to the listed ones, a loopback one as any.
        assert!(!allowed(&by_name, "http://93.184.216.34/hook").await);
        assert!(allowed(&listing(&["localhost:8080", "93.184.216.34"]), "http://93.184.216.34/hook").await);
        // In every mode: local mode keeps listed hosts restricting.
        let local = TargetPolicy::new(&["localhost:8080".into()], false, true).unwrap();
        assert!(allowed(&local, "http://127.0.0.1:8080/hook").await);
        assert!(!allowed(&local, "http://127.0.0.1:9090/hook").await);
    }

    #[tokio::test]
    async fn unlisted_loopback_stays_refused_with_or_without_a_list() {
        for policy in [strict(), TargetPolicy::new(&[], true, false).unwrap(), listing(&["127.0.0.0/8"])] {
            for target in ["http://127.0.0.1:8080/", "http://localhost:8080/", "http://[::1]:8080/"] {
                let why = policy.check(&url(target)).await.unwrap_or_default();
                assert!(why.contains("loopback"), "{target}: {why}");
            }
        }
    }

    #[tokio::test]
    async fn a_loopback_host_listed_without_a_port_opens_no_loopback_port() {
        for entry in ["localhost", "127.0.0.1", "[::1]", "::1"] {
            let policy = listing(&[entry]);
            for target in ["http://localhost:8080/", "http://127.0.0.1:8080/", "http://[::1]/"] {
                assert!(!allowed(&policy, target).await, "{entry} opened {target}");
            }
        }
        // Beside a listed port it makes no other port of it a target.
        let policy = listing(&["localhost", "127.0.0.1:8080", "[::1]:8080"]);
        assert!(allowed(&policy, "http://localhost:8080/").await);
        assert!(!allowed(&policy, "http://localhost:9090/").await);
        // Nor does it at delivery, where the resolver is not told the port.
        let resolved = policy.targets("localhost").await.unwrap();
        assert!(resolved.iter().all(|a| a.ip().is_loopback()), "{resolved:?}");
        assert!(policy.refuse_before_sending(&url("http://localhost:9090/")).is_some());
    }

    #[tokio::test]
    async fn a_metadata_or_unspecified_address_cannot_be_listed() {
        for entry in [
            "169.254.169.254:80",
            "169.254.169.254",
            "[fe80::1]:8080",
            "fe80::1",
            "[fe80::a9fe:a9fe]:80",
            "[::ffff:169.254.169.254]:80",
            "0.0.0.0:8080",
            "[::]:8080",
            "[::ffff:127.0.0.1]:8080",
            "224.0.0.1:80",
            "192.0.2.1:443",
        ] {
            let why = TargetPolicy::new(&[entry.to_owned()], false, false).unwrap_err();
            assert!(why.contains("never a webhook target"), "{entry}: {why}");
            assert!(TargetPolicy::new(&[entry.to_owned()], true, true).is_err(), "{entry} in local mode");
        }
        // As a network it is accepted, and opens nothing.
        let policy = listing(&["169.254.0.0/16", "127.0.0.0/8"]);
        assert!(!allowed(&policy, "http://169.254.169.254/latest/meta-data").await);
        assert!(!allowed(&policy, "http://127.0.0.1:8080/").await);
    }

    #[tokio::test]
    async fn a_name_other_than_localhost_never_reaches_loopback() {
        // Listed with its port, it passes by name...
        let policy = listing(&["sidecar.internal:8080", "localhost:8080"]);
        assert_eq!(policy.refuse_name("sidecar.internal", Some(8080)), None);
        // ...but an address of loopback it resolves to is refused, even one
        // listed on that very port (DNS is not the operator's word).
        for ip in ["127.0.0.1", "::1", "127.0.0.53"] {
            let ip: IpAddr = ip.parse().unwrap();
            let why = policy.refuse_address("sidecar.internal", ip, Some(8080)).unwrap_or_default();
            assert!(why.contains("loopback"), "{ip}: {why}");
            assert!(policy.refuse_address("sidecar.internal", ip, None).is_some(), "{ip} at delivery");
        }
        assert_eq!(policy.refuse_address("localhost", "127.0.0.1".parse().unwrap(), Some(8080)), None);
        // A real name that resolves to loopback here, when there is one.
        let hosts_file = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let host = hosts_file.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            ip.is_loopback().then(|| words.find(|name| !name.starts_with('#') && *name != "localhost"))?
        });
        if let Some(name) = host {
            let name = name.to_ascii_lowercase();
            let policy = listing(&[&format!("{name}:8080"), "localhost:8080"]);
            let why = policy.check(&url(&format!("http://{name}:8080/"))).await.unwrap_or_default();
            assert!(why.contains("loopback"), "{name}: {why}");
            assert!(policy.targets(&name).await.is_err(), "{name} at delivery");
        }
    }

    #[test]
    fn entries_keep_their_forms() {
        let policy =
            listing(&[" Hooks.Example ", "93.184.216.34:8443", "10.0.0.0/8", "[2606:4700::1]:443", "[fd00::1]"]);
        assert_eq!(
            policy.hosts,
            [
                ("hooks.example".to_owned(), None),
                ("93.184.216.34".to_owned(), Some(8443)),
                ("2606:4700::1".to_owned(), Some(443)),
                ("fd00::1".to_owned(), None),
            ]
        );
        assert_eq!(policy.networks, [Network::parse("10.0.0.0/8").unwrap()]);
        assert!(policy.loopback.is_empty());
        assert_eq!(
            listing(&["localhost:8080"]).loopback,
            [("127.0.0.1".parse().unwrap(), 8080), ("::1".parse().unwrap(), 8080)]
        );
        for bad in ["host:0", "host:99999", ":8080", "[::1", "[::1]8080", "[hooks.example]:80", "a@b:80"] {
            assert!(TargetPolicy::new(&[bad.to_owned()], false, false).is_err(), "{bad}");
        }
    }

    /// SIIT (`::ffff:0:0/96`) and local-use NAT64 (`64:ff9b:1::/48`, judged by
    /// its last 32 bits) reach the IPv4 address they carry; other addresses
    /// of `64:ff9b:1::/48` and the SIIT block's neighbours are left alone.
    #[test]
    fn siit_and_local_use_nat64_are_judged_by_their_embedded_ipv4() {
        let v4 = |text: &str| IpAddr::V4(text.parse().unwrap());
        for (v6, carried) in [
            ("::ffff:0:a9fe:a9fe", "169.254.169.254"),
            ("::ffff:0:127.0.0.1", "127.0.0.1"),
            ("64:ff9b:1::a9fe:a9fe", "169.254.169.254"),
            ("64:ff9b:1:abcd::10.1.2.3", "10.1.2.3"),
            ("64:ff9b:1::5db8:d822", "93.184.216.34"),
        ] {
            assert_eq!(canonical(v6.parse().unwrap()), v4(carried), "{v6}");
        }
        assert_eq!(classify("::ffff:0:a9fe:a9fe".parse().unwrap()), classify_v4("169.254.169.254".parse().unwrap()));
        assert_eq!(classify("64:ff9b:1::5db8:d822".parse().unwrap()), Class::Public, "a public IPv4 stays public");
        for other in ["64:ff9b:2::a9fe:a9fe", "::fffe:0:a9fe:a9fe", "2001:4860::a9fe:a9fe"] {
            let ip: IpAddr = other.parse().unwrap();
            assert_eq!(canonical(ip), ip, "{other} carries no IPv4 address");
        }
    }

    #[test]
    fn networks_contain_what_they_should() {
        let ten = Network::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains("10.255.1.2".parse().unwrap()));
        assert!(ten.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!ten.contains("11.0.0.1".parse().unwrap()));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
    }
}
