//! Where webhooks may go: no SSRF. A `webhook_url` whose host is, or
//! resolves to, a loopback, link-local (cloud metadata), unspecified,
//! multicast or broadcast address is refused; private and shared ranges
//! (RFC 1918, CGNAT, fc00::/7), which internal backends use, only when the
//! operator lists the host or its network, or allows private targets.
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
/// IPv4-compatible (`::127.0.0.1`, deprecated), NAT64 (`64:ff9b::/96`,
/// RFC 6052) and 6to4 (`2002::/16`, RFC 3056).
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    };
    if let Some(mapped) = v6.to_ipv4_mapped() {
        IpAddr::V4(mapped)
    } else if (s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified()) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
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
    /// Private and shared ranges are targets without being listed.
    allow_private: bool,
    /// Local mode: every address is a target (the walkthrough's receiver is
    /// on loopback); listed hosts still restrict the targets.
    local: bool,
}

impl TargetPolicy {
    /// The policy of `entries` (`PAYMENT_WEBHOOK_ALLOWED_HOSTS`: hosts,
    /// `host:port` or CIDR networks), `allow_private`
    /// (`PAYMENT_WEBHOOK_ALLOW_PRIVATE`) and the mode.
    ///
    /// # Errors
    /// The entry that is none of the three.
    pub fn new(entries: &[String], allow_private: bool, local: bool) -> Result<Self, String> {
        let mut policy = Self { allow_private, local, ..Self::default() };
        for entry in entries.iter().map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()) {
            if entry.contains('/') {
                let network =
                    Network::parse(&entry).ok_or_else(|| format!("{entry:?} is not a network like 10.0.0.0/8"))?;
                policy.networks.push(network);
            } else if let Some((host, port)) = entry.rsplit_once(':').filter(|(host, _)| !host.contains(':')) {
                let port = port.parse().map_err(|_| format!("{entry:?}: the port is not a number"))?;
                policy.hosts.push((host.to_owned(), Some(port)));
            } else {
                let host = entry.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() || host.contains(['@', '?', '#', ' ']) {
                    return Err(format!("{entry:?} is not a host"));
                }
                policy.hosts.push((host.to_owned(), None));
            }
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

    /// Why `ip`, an address of `host`, may not be a target, if it may not.
    fn refuse_address(&self, host: &str, ip: IpAddr) -> Option<String> {
        if self.local {
            return None;
        }
        match classify(ip) {
            Class::Public => None,
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
        // In local mode no address is refused, and a literal one was checked.
        if self.local || host.parse::<IpAddr>().is_ok() {
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
        addresses.iter().find_map(|address| self.refuse_address(&host, address.ip()))
    }

    /// The addresses of `host` a delivery may connect to.
    ///
    /// # Errors
    /// Why there is none.
    async fn targets(&self, host: &str) -> Result<Vec<SocketAddr>, String> {
        if let Some(why) = self.refuse_name(host, None) {
            return Err(why);
        }
        let found = tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("{host}: {e}"))?;
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
            found.partition(|address| self.refuse_address(host, address.ip()).is_none());
        match (allowed.is_empty(), refused.first()) {
            (false, _) => Ok(allowed),
            (true, Some(first)) => Err(self.refuse_address(host, first.ip()).unwrap_or_default()),
            (true, None) => Err(format!("{host} has no address")),
        }
    }

    /// Why the URL a delivery is about to POST to may not be used, before
    /// any resolution: its host by name, or its address when it is one (an
    /// address is connected to without asking the resolver).
    pub fn refuse_before_sending(&self, url: &WebhookUrl) -> Option<String> {
        let (host, port) = (url.host(), url.port());
        if let Some(why) = self.refuse_name(&host, Some(port)) {
            return Some(why);
        }
        host.parse::<IpAddr>().ok().and_then(|ip| self.refuse_address(&host, ip))
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
