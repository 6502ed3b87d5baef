//! The argument syntax of `allow`, `deny`, `cmdallow` and `cmddeny` (in
//! chrony.conf and in chronyc), as chrony accepts it.

use std::net::{IpAddr, Ipv4Addr};

use super::{AccessError, Subnet};

/// What an allow/deny rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleTarget {
    /// An address or subnet (or any address).
    Subnet(Subnet),
    /// A host name, to be resolved by the daemon; the rule then covers the
    /// first address returned, as a single host ([`Subnet::host`]).
    Host(String),
}

/// A parsed `[all] [SUBNET]` argument list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowDenyRule {
    /// The `all` keyword was given: the rule erases more specific rules.
    pub all: bool,
    /// The subnet or host name.
    pub target: RuleTarget,
}

/// Parses the arguments of an allow/deny directive or command:
/// `[all] [SUBNET]`, where an empty SUBNET means every IPv4 and IPv6 address.
///
/// The keyword `all` is case-sensitive, as in chrony.
///
/// # Errors
/// [`AccessError::Syntax`] for extra words or a malformed subnet.
pub fn parse_allow_deny(args: &str) -> Result<AllowDenyRule, AccessError> {
    let mut words = args.split_ascii_whitespace();
    let first = words.next();
    let (all, net) = match first {
        Some("all") => (true, words.next()),
        other => (false, other),
    };
    if words.next().is_some() {
        return Err(AccessError::Syntax(args.trim().to_owned()));
    }
    let target = match net {
        None => RuleTarget::Subnet(Subnet::ANY),
        Some(net) => parse_target(net)?,
    };
    Ok(AllowDenyRule { all, target })
}

/// Parses one subnet: `ADDR`, `ADDR/BITS` (IPv4 or IPv6), or the shortened
/// IPv4 forms `A`, `A.B`, `A.B.C` (prefix 8, 16 or 24 bits unless `/BITS`
/// follows).
///
/// The prefix length is checked against the family here as well, so a
/// returned subnet is always usable. Host names are not resolved: use
/// [`parse_allow_deny`] to tell them apart.
///
/// # Errors
/// [`AccessError::Syntax`] if the text is not an address or subnet;
/// [`AccessError::BadSubnet`] if the prefix length is too long.
pub fn parse_subnet(text: &str) -> Result<Subnet, AccessError> {
    match parse_target(text)? {
        RuleTarget::Subnet(s) => Ok(s),
        RuleTarget::Host(_) => Err(AccessError::Syntax(text.to_owned())),
    }
}

fn parse_target(net: &str) -> Result<RuleTarget, AccessError> {
    let syntax = || AccessError::Syntax(net.to_owned());
    let (addr_text, bits) = match net.split_once('/') {
        Some((a, b)) => (a, Some(parse_bits(b).ok_or_else(syntax)?)),
        None => (net, None),
    };

    if let Ok(addr) = addr_text.parse::<IpAddr>() {
        return match bits {
            Some(b) => Subnet::new(Some(addr), b).map(RuleTarget::Subnet),
            None => Ok(RuleTarget::Subnet(Subnet::host(addr))),
        };
    }

    if let Some(parts) = shortened_ipv4(addr_text) {
        let parts = parts.ok_or_else(syntax)?;
        let mut octets = [0u8; 4];
        octets[..parts.len()].copy_from_slice(&parts);
        let addr = IpAddr::V4(Ipv4Addr::from(octets));
        // OK: at most three parts, so the default fits in i32.
        let default_bits = 8 * parts.len() as i32;
        return Subnet::new(Some(addr), bits.unwrap_or(default_bits)).map(RuleTarget::Subnet);
    }

    // chrony tries a host name last, and only without a prefix length.
    if bits.is_none() && !addr_text.is_empty() {
        return Ok(RuleTarget::Host(addr_text.to_owned()));
    }
    Err(syntax())
}

/// A non-negative decimal prefix length (an optional `+` is accepted, as by
/// C's `%d`).
fn parse_bits(text: &str) -> Option<i32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i32>().ok()
}

/// The shortened IPv4 network notation: one to three dot-separated decimal
/// numbers (unlike inet_aton, the missing parts are zero on the right).
///
/// Returns `None` if the text does not have that shape (it may be a host
/// name), `Some(None)` if it has the shape but a number exceeds 255 (an
/// error in chrony, not a host name), else the numbers.
fn shortened_ipv4(text: &str) -> Option<Option<Vec<u8>>> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| p.parse::<u8>().ok())
        .collect::<Option<Vec<u8>>>();
    Some(numbers)
}
