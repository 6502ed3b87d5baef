//! kronyd: the krony NTP daemon.
fn main() {}
