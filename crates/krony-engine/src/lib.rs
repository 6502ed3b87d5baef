//! The sans-IO timekeeping engine: events in, actions out, time passed in.
#![forbid(unsafe_code)]
