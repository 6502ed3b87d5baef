//! chrony's command and monitoring protocol, version 6 (reference §4).
