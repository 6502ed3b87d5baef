//! chrony.conf grammar parsed into a typed [`Config`].
#![forbid(unsafe_code)]
