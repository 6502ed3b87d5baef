//! Noticing that the clock was stepped by someone else, as chronyd's
//! scheduler does around its `select` (`check_current_time`): the time a
//! wait took is bounded by its timeout, so a clock reading that moved back,
//! or forward by much more than the wait could last, means a step. The
//! engine then forgets its measurements (an unknown step), which brings
//! the sources back within a few polls instead of letting their old
//! samples fight the new offset.

use krony_engine::UnixTime;

/// Smaller differences are not reported (chrony's `JUMP_DETECT_THRESHOLD`).
const JUMP_THRESHOLD: f64 = 10.0;

/// Which way the clock jumped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jump {
    /// The clock went back; chronyd's "Backward time jump detected!".
    Backward,
    /// The clock went forward; "Forward time jump detected!".
    Forward,
}

impl Jump {
    /// chronyd's warning.
    pub fn message(self) -> &'static str {
        match self {
            Jump::Backward => "Backward time jump detected!",
            Jump::Forward => "Forward time jump detected!",
        }
    }
}

/// Checks a wait that started at `before` and ended at `after` (clock
/// readings taken right around it), with its timeout in seconds (`None`:
/// none) and whether it ended by the timeout. Returns the jump and the
/// offset it removed, seconds, positive when the clock went back (what
/// `Engine::notify_external_step` takes).
pub fn check(
    before: UnixTime,
    after: UnixTime,
    timeout: Option<f64>,
    timed_out: bool,
) -> Option<(Jump, f64)> {
    // poll(2) does not say how long it waited unless it timed out.
    let (min, max) = match timeout {
        Some(t) if timed_out => (t, t),
        Some(t) => (0.0, t),
        None => (0.0, after.diff_secs(before)),
    };
    let step = before.diff_secs(after) + min;
    if step > JUMP_THRESHOLD {
        Some((Jump::Backward, step))
    } else if after.diff_secs(before) - max > JUMP_THRESHOLD {
        Some((Jump::Forward, step))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> UnixTime {
        UnixTime::from_secs_nanos(1_000_000_000, 0).add_secs(s)
    }

    #[test]
    fn ordinary_waits_are_not_jumps() {
        assert_eq!(check(t(0.0), t(64.0), Some(64.0), true), None);
        assert_eq!(check(t(64.1), t(70.0), Some(64.0), false), None);
        assert_eq!(check(t(70.0), t(500.0), None, false), None);
        // Under the threshold.
        assert_eq!(check(t(500.0), t(495.0), Some(1.0), true), None);
    }

    #[test]
    fn a_backward_step_during_a_wait_is_reported_with_its_size() {
        // A 64 s wait that timed out, with the clock stepped back 100 s.
        let (jump, step) = check(t(100.0), t(64.0), Some(64.0), true).expect("jump");
        assert_eq!(jump, Jump::Backward);
        assert!((step - 100.0).abs() < 1e-6, "{step}");
        assert_eq!(Jump::Backward.message(), "Backward time jump detected!");
        // Woken early by a packet: the wait may have been short.
        let (_, step) = check(t(100.0), t(80.0), Some(64.0), false).expect("jump");
        assert!((step - 20.0).abs() < 1e-6, "{step}");
    }

    #[test]
    fn a_forward_step_beyond_the_timeout_is_reported() {
        let (jump, step) = check(t(0.0), t(1064.0), Some(64.0), true).expect("jump");
        assert_eq!(jump, Jump::Forward);
        assert!((step + 1000.0).abs() < 1e-6, "{step}");
        // Without a timeout a forward jump cannot be told from a long wait.
        assert_eq!(check(t(0.0), t(1064.0), None, false), None);
    }
}
