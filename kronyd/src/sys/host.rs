//! The host's name and local time as text (for `mailonchange`).

use std::ffi::CString;

/// `gethostname(2)`; `None` if it fails.
pub fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; gethostname NUL-terminates
    // within it when the name fits (the last byte is kept 0 regardless).
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if r < 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Unix time `t` in the local time zone, formatted by `strftime(format)`.
pub fn local_time_text(t: i64, format: &str) -> Option<String> {
    let t = libc::time_t::try_from(t).ok()?;
    let format = CString::new(format).ok()?;
    // SAFETY: tm is a plain C struct; all zeroes is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: t and tm are valid for the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    let mut buf = [0u8; 512];
    // SAFETY: buf is writable for its length, format is NUL-terminated
    // and tm was filled by localtime_r.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm) };
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_time() {
        assert!(hostname().is_some_and(|h| !h.is_empty()));
        let year = local_time_text(1_262_347_200, "%Y").expect("strftime");
        assert!(year == "2010" || year == "2009", "{year}");
        assert_eq!(local_time_text(0, ""), None);
    }
}
