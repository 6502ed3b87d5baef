//! The `rtcfile`: the RTC's coefficients ("valid ref_time offset rate"),
//! written through `FILE.tmp` and a rename as chrony writes it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use krony_engine::rtc::RtcCoefs;

use super::{create_new, os_error_text};

/// Writes the coefficients to `path`; chrony's message on failure.
///
/// # Errors
/// The text to log when the temporary file cannot be written or renamed.
pub fn write_coefs(path: &Path, c: &RtcCoefs) -> Result<(), String> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let mut file = create_new(&temp).map_err(|e| e.to_string())?;
    let written = file.write_all(c.to_string().as_bytes());
    drop(file);
    let result = written
        .map_err(|e| {
            format!(
                "Could not write to {} : {}",
                temp.display(),
                os_error_text(&e)
            )
        })
        .and_then(|()| {
            std::fs::rename(&temp, path).map_err(|e| {
                format!(
                    "Could not replace {} with {} : {}",
                    path.display(),
                    temp.display(),
                    os_error_text(&e)
                )
            })
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Reads the coefficients: `None` if the file is absent; `Some(None)`
/// (chrony's warning "Could not read coefficients") if it does not parse.
pub fn read_coefs(path: &Path) -> Option<Option<RtcCoefs>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(RtcCoefs::parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rtc");
        assert_eq!(read_coefs(&path), None);
        let c = RtcCoefs {
            valid: true,
            ref_time: 1_262_313_790,
            offset: -9.25,
            rate_ppm: 99.5,
        };
        write_coefs(&path, &c).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "1 1262313790 -9.250000 99.500\n"
        );
        assert_eq!(read_coefs(&path), Some(Some(c)));
        std::fs::write(&path, "garbage\n").expect("write");
        assert_eq!(read_coefs(&path), Some(None));
        let bad = dir.path().join("no/such/dir/rtc");
        assert!(write_coefs(&bad, &c).is_err());
    }
}
