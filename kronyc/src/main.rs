//! kronyc: the krony command-line client (see the library's docs).
#![forbid(unsafe_code)]

fn main() {
    let mut args = std::env::args();
    let progname = args.next().unwrap_or_else(|| "kronyc".to_string());
    let rest: Vec<String> = args.collect();
    // `run` returns only after closing the connection, so the client's
    // socket files are gone before the process exits.
    std::process::exit(kronyc::cli::run(&progname, &rest));
}
