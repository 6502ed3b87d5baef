//! Deterministic simulator running krony-engine against simulated clocks and networks.
#![forbid(unsafe_code)]
