//! Commands that change a running source (chronyc `minpoll`, `maxpoll`,
//! `maxdelay`, `maxdelayratio`, `maxdelaydevratio`, `minstratum`,
//! `polltarget`, `offset`), as chrony's `NCR_Modify*` functions apply them.

use super::NtpSource;
use super::config::{
    MAX_POLL, MAX_STRATUM, MIN_POLL, clamp_max_delay, clamp_max_delay_dev_ratio,
    clamp_max_delay_ratio,
};
use super::types::SourceEvent;

impl NtpSource {
    fn changed(&mut self, name: &'static str, value: String) {
        self.events
            .push_back(SourceEvent::ParameterChanged { name, value });
    }

    /// Sets `minpoll`; out-of-range values (-7..=24) are ignored. A larger
    /// `minpoll` raises `maxpoll` with it. The current poll moves into the
    /// new range at its next adjustment.
    pub fn modify_minpoll(&mut self, minpoll: i32) {
        let Ok(v) = i8::try_from(minpoll) else { return };
        if !(MIN_POLL..=MAX_POLL).contains(&v) {
            return;
        }
        self.params.minpoll = v;
        self.changed("minpoll", v.to_string());
        if self.params.maxpoll < v {
            self.modify_maxpoll(minpoll);
        }
    }

    /// Sets `maxpoll`; out-of-range values are ignored. A smaller `maxpoll`
    /// lowers `minpoll` with it.
    pub fn modify_maxpoll(&mut self, maxpoll: i32) {
        let Ok(v) = i8::try_from(maxpoll) else { return };
        if !(MIN_POLL..=MAX_POLL).contains(&v) {
            return;
        }
        self.params.maxpoll = v;
        self.changed("maxpoll", v.to_string());
        if self.params.minpoll > v {
            self.modify_minpoll(maxpoll);
        }
    }

    /// Sets `maxdelay` (clamped to 0..=1000 s).
    pub fn modify_maxdelay(&mut self, seconds: f64) {
        self.params.max_delay = clamp_max_delay(seconds);
        self.changed("maxdelay", format!("{:.6}", self.params.max_delay));
    }

    /// Sets `maxdelayratio` (clamped to 0..=1e6).
    pub fn modify_maxdelayratio(&mut self, ratio: f64) {
        self.params.max_delay_ratio = clamp_max_delay_ratio(ratio);
        self.changed(
            "maxdelayratio",
            format!("{:.6}", self.params.max_delay_ratio),
        );
    }

    /// Sets `maxdelaydevratio` (clamped to 0..=1e6).
    pub fn modify_maxdelaydevratio(&mut self, ratio: f64) {
        self.params.max_delay_dev_ratio = clamp_max_delay_dev_ratio(ratio);
        let v = format!("{:.6}", self.params.max_delay_dev_ratio);
        self.changed("maxdelaydevratio", v);
    }

    /// Sets `minstratum` (chrony takes the value as given; above 15 it is
    /// limited here to stay a valid stratum).
    pub fn modify_minstratum(&mut self, stratum: i32) {
        self.params.min_stratum = stratum.clamp(0, i32::from(MAX_STRATUM - 1)) as u8;
        self.changed("minstratum", stratum.to_string());
    }

    /// Sets `polltarget` (at least 1).
    pub fn modify_polltarget(&mut self, target: i32) {
        self.params.poll_target = target.max(1);
        self.changed("polltarget", target.to_string());
    }

    /// Sets the `offset` correction added to measured offsets, seconds.
    pub fn modify_offset(&mut self, offset: f64) {
        self.params.offset_correction = offset;
        self.changed("offset", format!("{offset:.6}"));
    }

    /// Enables or disables the krony extension of going offline on a KoD
    /// DENY or RSTR (see [`SourceParams::stop_on_deny`](super::SourceParams)).
    pub fn set_stop_on_deny(&mut self, on: bool) {
        self.params.stop_on_deny = on;
    }
}
