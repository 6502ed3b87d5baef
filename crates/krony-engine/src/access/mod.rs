//! Access control for NTP clients (`allow`/`deny`) and monitoring clients
//! (`cmdallow`/`cmddeny`), with chrony's semantics.
//!
//! The rules live in a tree of 16-way tables, one level per four address
//! bits, separately for IPv4 and IPv6. Each node says "allow", "deny" or
//! "as parent"; a lookup walks down along the address and keeps the last
//! explicit decision it met, so the most specific rule wins. This layout is
//! observable: chrony documents that a prefix length which is not a multiple
//! of four is expanded into several entries of the next table, so rules at
//! e.g. /25 and /28 overwrite each other in the order they were given, while
//! /28 and /29 do not. [`AccessTable`] reproduces that exactly.
//!
//! Operations mirror the cmdmon requests ALLOW, ALLOWALL, DENY and DENYALL:
//! the plain forms set one node and keep the more specific rules beneath it;
//! the `all` forms also erase every rule beneath it.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are treated as IPv6, as in
//! chrony, whose IPv6 sockets are IPV6_V6ONLY so that such addresses never
//! reach the check; rules for them must be written in IPv6 form.

mod parse;

pub use parse::{AllowDenyRule, RuleTarget, parse_allow_deny, parse_subnet};

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Address bits consumed by one level of the tree.
const LEVEL_BITS: u32 = 4;
/// Entries per table: one for each value of a 4-bit group.
const FANOUT: usize = 1 << LEVEL_BITS;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The prefix length does not fit the address family, or a prefix was
    /// given for "any address" (cmdmon status 7, chronyc "507 Bad subnet").
    #[error("bad subnet")]
    BadSubnet,
    /// The text is not a subnet, host name or `all` form that chrony accepts.
    #[error("invalid allow/deny specification {0:?}")]
    Syntax(String),
}

/// A subnet as used by the access rules: an address and a prefix length, or
/// "any address" of both families.
///
/// The address is kept as given (not masked), as chrony does; only its first
/// `bits` bits matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    addr: Option<IpAddr>,
    bits: u8,
}

impl Subnet {
    /// Every IPv4 and IPv6 address (`allow` with no argument).
    pub const ANY: Subnet = Subnet {
        addr: None,
        bits: 0,
    };

    /// A subnet from an address (`None` = any address) and a prefix length,
    /// as received in a cmdmon ALLOW/DENY request.
    ///
    /// # Errors
    /// [`AccessError::BadSubnet`] if `bits` is negative, longer than the
    /// address, or non-zero for "any address".
    pub fn new(addr: Option<IpAddr>, bits: i32) -> Result<Self, AccessError> {
        let max = match addr {
            None => 0,
            Some(IpAddr::V4(_)) => 32,
            Some(IpAddr::V6(_)) => 128,
        };
        match u8::try_from(bits) {
            Ok(b) if b <= max => Ok(Subnet { addr, bits: b }),
            _ => Err(AccessError::BadSubnet),
        }
    }

    /// A single host (/32 or /128), e.g. a resolved host name.
    pub fn host(addr: IpAddr) -> Self {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        Subnet {
            addr: Some(addr),
            bits,
        }
    }

    /// The address, or `None` for "any address".
    pub fn addr(&self) -> Option<IpAddr> {
        self.addr
    }

    /// The prefix length.
    pub fn bits(&self) -> u8 {
        self.bits
    }
}

impl fmt::Display for Subnet {
    /// chrony's form in log messages: `any address`, a bare address for a
    /// host, otherwise `addr/bits`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            None => f.write_str("any address"),
            Some(a) if self == &Subnet::host(a) => write!(f, "{a}"),
            Some(a) => write!(f, "{a}/{}", self.bits),
        }
    }
}

/// The four rule-changing operations (cmdmon ALLOW, ALLOWALL, DENY, DENYALL
/// and their CMD* twins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessAction {
    /// Allow the subnet; keep more specific rules beneath it.
    Allow,
    /// Allow the subnet and drop every more specific rule beneath it.
    AllowAll,
    /// Deny the subnet; keep more specific rules beneath it.
    Deny,
    /// Deny the subnet and drop every more specific rule beneath it.
    DenyAll,
}

impl AccessAction {
    /// The action for a parsed directive or command.
    pub fn new(allow: bool, all: bool) -> Self {
        match (allow, all) {
            (true, false) => AccessAction::Allow,
            (true, true) => AccessAction::AllowAll,
            (false, false) => AccessAction::Deny,
            (false, true) => AccessAction::DenyAll,
        }
    }

    /// Whether the action allows access.
    pub fn allows(self) -> bool {
        matches!(self, AccessAction::Allow | AccessAction::AllowAll)
    }

    /// Whether the action erases the rules beneath the subnet.
    pub fn is_all(self) -> bool {
        matches!(self, AccessAction::AllowAll | AccessAction::DenyAll)
    }
}

/// The decision stored in one node of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Deny,
    Allow,
    /// No rule of its own: the parent's decision applies.
    Inherit,
}

/// One node: its decision and, once a rule more specific than it was set,
/// the table of its 16 children.
#[derive(Debug, Clone)]
struct Node {
    decision: Decision,
    children: Option<Box<[Node; FANOUT]>>,
}

impl Node {
    fn new(decision: Decision) -> Self {
        Node {
            decision,
            children: None,
        }
    }

    /// The children table, created on first use with every child inheriting.
    fn children_mut(&mut self) -> &mut [Node; FANOUT] {
        self.children
            .get_or_insert_with(|| Box::new(std::array::from_fn(|_| Node::new(Decision::Inherit))))
    }

    /// Sets the decision; with `erase` also drops all rules beneath.
    fn set(&mut self, decision: Decision, erase: bool) {
        if erase {
            self.children = None;
        }
        self.decision = decision;
    }

    fn any_allowed(&self, inherited: Decision) -> bool {
        let own = match self.decision {
            Decision::Inherit => inherited,
            d => d,
        };
        match &self.children {
            Some(children) => children.iter().any(|c| c.any_allowed(own)),
            None => own == Decision::Allow,
        }
    }
}

/// An address left-aligned in 128 bits, so that IPv4 and IPv6 share the
/// nibble arithmetic.
fn aligned(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The 4-bit group of `addr` starting at bit `pos` (0 = most significant).
fn nibble(addr: u128, pos: u32) -> usize {
    // OK: pos < 128 and the mask keeps the value below FANOUT.
    ((addr >> (128 - LEVEL_BITS - pos)) & 0xf) as usize
}

/// A set of allow/deny rules for IPv4 and IPv6; by default everything is
/// denied.
#[derive(Debug, Clone)]
pub struct AccessTable {
    v4: Node,
    v6: Node,
}

impl Default for AccessTable {
    fn default() -> Self {
        Self::new()
    }
}

impl AccessTable {
    /// An empty table: every address is denied.
    pub fn new() -> Self {
        AccessTable {
            v4: Node::new(Decision::Deny),
            v6: Node::new(Decision::Deny),
        }
    }

    /// Applies one rule.
    pub fn apply(&mut self, action: AccessAction, subnet: &Subnet) {
        let decision = if action.allows() {
            Decision::Allow
        } else {
            Decision::Deny
        };
        let erase = action.is_all();
        match subnet.addr {
            // "Any address" is the root of both trees (prefix length 0).
            None => {
                self.v4.set(decision, erase);
                self.v6.set(decision, erase);
            }
            Some(addr) => {
                let root = match addr {
                    IpAddr::V4(_) => &mut self.v4,
                    IpAddr::V6(_) => &mut self.v6,
                };
                set_prefix(root, aligned(addr), u32::from(subnet.bits), decision, erase);
            }
        }
    }

    /// Applies a rule received as raw cmdmon fields (address or `None` for
    /// an unspecified family, prefix length as sent).
    ///
    /// # Errors
    /// [`AccessError::BadSubnet`] (cmdmon status 7) if the prefix length
    /// does not fit; the table is then unchanged.
    pub fn apply_raw(
        &mut self,
        action: AccessAction,
        addr: Option<IpAddr>,
        bits: i32,
    ) -> Result<(), AccessError> {
        let subnet = Subnet::new(addr, bits)?;
        self.apply(action, &subnet);
        Ok(())
    }

    /// `allow SUBNET`.
    pub fn allow(&mut self, subnet: &Subnet) {
        self.apply(AccessAction::Allow, subnet);
    }

    /// `allow all SUBNET`.
    pub fn allow_all(&mut self, subnet: &Subnet) {
        self.apply(AccessAction::AllowAll, subnet);
    }

    /// `deny SUBNET`.
    pub fn deny(&mut self, subnet: &Subnet) {
        self.apply(AccessAction::Deny, subnet);
    }

    /// `deny all SUBNET`.
    pub fn deny_all(&mut self, subnet: &Subnet) {
        self.apply(AccessAction::DenyAll, subnet);
    }

    /// Whether `addr` is allowed (also the answer to `accheck`/`cmdaccheck`).
    pub fn is_allowed(&self, addr: IpAddr) -> bool {
        let (mut node, width) = match addr {
            IpAddr::V4(_) => (&self.v4, 32),
            IpAddr::V6(_) => (&self.v6, 128),
        };
        let a = aligned(addr);
        // The roots are never Inherit, so this initial value is always
        // replaced at the first step.
        let mut decision = Decision::Deny;
        let mut pos = 0;
        loop {
            if node.decision != Decision::Inherit {
                decision = node.decision;
            }
            match &node.children {
                Some(children) if pos < width => {
                    node = &children[nibble(a, pos)];
                    pos += LEVEL_BITS;
                }
                _ => break,
            }
        }
        decision == Decision::Allow
    }

    /// Whether any IPv4 (`ipv6 == false`) or IPv6 address is allowed; chrony
    /// keeps the server socket of a family open only while this holds.
    pub fn is_any_allowed(&self, ipv6: bool) -> bool {
        let root = if ipv6 { &self.v6 } else { &self.v4 };
        root.any_allowed(Decision::Deny)
    }
}

/// Sets the rule for the first `bits` bits of `addr` below `root`.
///
/// A length that is a multiple of four names exactly one node. Otherwise the
/// remaining 1..3 bits select a block of 8, 4 or 2 entries in the next table,
/// and all of them get the rule.
fn set_prefix(root: &mut Node, addr: u128, bits: u32, decision: Decision, erase: bool) {
    let mut node = root;
    let mut pos = 0;
    while bits - pos >= LEVEL_BITS {
        let idx = nibble(addr, pos);
        node = &mut node.children_mut()[idx];
        pos += LEVEL_BITS;
    }
    let rest = bits - pos;
    if rest == 0 {
        node.set(decision, erase);
        return;
    }
    let block = 1usize << (LEVEL_BITS - rest);
    let first = nibble(addr, pos) & !(block - 1);
    for child in &mut node.children_mut()[first..first + block] {
        child.set(decision, erase);
    }
}

/// The loopback addresses that chronyd always lets use the command port,
/// whatever `cmdallow`/`cmddeny` say: exactly 127.0.0.1 and ::1 (not the
/// rest of 127.0.0.0/8).
pub fn is_cmd_localhost(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a == Ipv4Addr::LOCALHOST,
        IpAddr::V6(a) => a == Ipv6Addr::LOCALHOST,
    }
}

/// Whether a command packet from `addr` (received over UDP) is accepted:
/// localhost always, others per the `cmdallow`/`cmddeny` table.
///
/// `cmdaccheck` reports the table alone ([`AccessTable::is_allowed`]), as
/// chrony does.
pub fn is_cmd_allowed(table: &AccessTable, addr: IpAddr) -> bool {
    is_cmd_localhost(addr) || table.is_allowed(addr)
}

#[cfg(test)]
mod tests;
