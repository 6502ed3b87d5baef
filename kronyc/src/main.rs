//! kronyc: the krony command-line client.
fn main() {}
