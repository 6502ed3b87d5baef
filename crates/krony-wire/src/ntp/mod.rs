//! NTP packets (RFC 5905) with extension fields (RFC 7822) and legacy MACs.
