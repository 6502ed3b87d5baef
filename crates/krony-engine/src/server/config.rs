//! The server's configuration: the `allow`/`deny` rules, the client-log and
//! `ratelimit` directives, and the clock precision it advertises.

use std::net::IpAddr;

use krony_config::{AccessRule, AccessTarget, Config, RateLimit};

use crate::access::{AccessAction, AccessTable, Subnet};
use crate::clientlog::{ClientLogConfig, RateLimitConfig};

use super::ServerError;

/// The most precise clock an NTP packet can describe here: chrony refuses a
/// precision below 2^-30 s, since the fuzz added to timestamps must leave at
/// least two random bits to tell timestamps apart.
pub const MIN_PRECISION: i8 = -30;

/// Everything the NTP responder needs to know from the configuration.
///
/// `port 0` (no server) and the socket options are the daemon's business:
/// it simply never feeds requests to the server then.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The `allow`/`deny` rules, applied in order.
    pub access: AccessTable,
    /// `noclientlog`, `clientloglimit`, `ratelimit` (and the NTS-KE and
    /// command limits, which share the log).
    pub client_log: ClientLogConfig,
    /// The precision field of responses, log2 s (chrony's measured system
    /// precision rounded to the nearest power of two, see
    /// [`precision_log2`]).
    pub precision: i8,
}

impl Default for ServerConfig {
    /// No client allowed, default client log, no rate limit, precision
    /// 2^-20 s.
    fn default() -> Self {
        ServerConfig {
            access: AccessTable::new(),
            client_log: ClientLogConfig::default(),
            precision: -20,
        }
    }
}

impl ServerConfig {
    /// Builds the server's configuration from a parsed chrony.conf.
    ///
    /// `resolve` turns the host names of `allow`/`deny` rules into an
    /// address (the daemon does the DNS lookup; chrony uses the first
    /// address returned). `precision` is the advertised clock precision in
    /// seconds, as [`crate::clock::Clock::precision`] reports it.
    ///
    /// # Errors
    /// [`ServerError::UnresolvedHost`] if `resolve` cannot resolve a host
    /// name (chrony refuses to start then), [`ServerError::BadSubnet`] for a
    /// prefix length that does not fit the address.
    pub fn from_config<F>(
        config: &Config,
        precision: f64,
        mut resolve: F,
    ) -> Result<Self, ServerError>
    where
        F: FnMut(&str) -> Option<IpAddr>,
    {
        let mut access = AccessTable::new();
        for rule in &config.ntp_access {
            apply_rule(&mut access, rule, &mut resolve)?;
        }
        Ok(ServerConfig {
            access,
            client_log: ClientLogConfig {
                enabled: !config.no_client_log,
                limit_bytes: u64::from(config.client_log_limit),
                ntp: config.ratelimit.map(rate_limit),
                nts: config.nts_ratelimit.map(rate_limit),
                cmd: config.cmd_ratelimit.map(rate_limit),
            },
            precision: precision_log2(precision),
        })
    }
}

/// Applies one `allow`/`deny` line to `table`.
fn apply_rule<F>(
    table: &mut AccessTable,
    rule: &AccessRule,
    resolve: &mut F,
) -> Result<(), ServerError>
where
    F: FnMut(&str) -> Option<IpAddr>,
{
    let subnet = match &rule.target {
        AccessTarget::Any => Subnet::ANY,
        AccessTarget::Subnet { addr, prefix } => Subnet::new(Some(*addr), i32::from(*prefix))
            .map_err(|_| ServerError::BadSubnet(format!("{addr}/{prefix}")))?,
        AccessTarget::Host(name) => {
            let addr = resolve(name).ok_or_else(|| ServerError::UnresolvedHost(name.clone()))?;
            Subnet::host(addr)
        }
    };
    table.apply(AccessAction::new(rule.allow, rule.all), &subnet);
    Ok(())
}

/// The client log's form of a `ratelimit`-style directive (the log clamps
/// the values to chrony's ranges).
fn rate_limit(r: RateLimit) -> RateLimitConfig {
    RateLimitConfig {
        interval: i32::from(r.interval),
        burst: i32::from(r.burst),
        leak: i32::from(r.leak),
        kod: i32::from(r.kod),
    }
}

/// The precision field for a clock whose readings are `secs` apart: log2 of
/// it rounded to the nearest integer, as chrony computes it, and not below
/// [`MIN_PRECISION`]. A non-positive or NaN input gives [`MIN_PRECISION`].
///
/// ```
/// use krony_engine::server::precision_log2;
/// assert_eq!(precision_log2(1e-9), -30);
/// assert_eq!(precision_log2(1.5e-8), -26);
/// assert_eq!(precision_log2(1e-6), -20);
/// ```
pub fn precision_log2(secs: f64) -> i8 {
    let log = secs.log2().round();
    if log.is_nan() || log < f64::from(MIN_PRECISION) {
        return MIN_PRECISION;
    }
    // OK: the value is at least MIN_PRECISION here, and `as` saturates
    // above; a precision above 1 s is meaningless but representable.
    (log.min(f64::from(i8::MAX))) as i8
}

#[cfg(test)]
mod tests {
    use super::*;
    use krony_config::{Loader, NoFs};
    use std::net::Ipv4Addr;

    fn config(text: &str) -> Config {
        let mut loader = Loader::new(&NoFs);
        loader.load_text(text, "test.conf").expect("config");
        loader.finish().config
    }

    fn resolve(name: &str) -> Option<IpAddr> {
        (name == "ntp.example").then_some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)))
    }

    #[test]
    fn from_config_maps_access_rules_and_limits() {
        let c = config(
            "allow 192.168.0.0/16\ndeny 192.168.5.0/24\nallow ntp.example\n\
             ratelimit interval 4 burst 16 kod 2\nclientloglimit 1048576\n",
        );
        let s = ServerConfig::from_config(&c, 1e-6, resolve).expect("server config");
        let ip = |t: &str| t.parse::<IpAddr>().expect("ip");
        assert!(s.access.is_allowed(ip("192.168.1.1")));
        assert!(!s.access.is_allowed(ip("192.168.5.1")));
        assert!(s.access.is_allowed(ip("192.0.2.9")));
        assert!(!s.access.is_allowed(ip("192.0.2.10")));
        assert!(!s.access.is_allowed(ip("::1")));
        assert_eq!(
            s.client_log.ntp,
            Some(RateLimitConfig {
                interval: 4,
                burst: 16,
                leak: 2,
                kod: 2
            })
        );
        assert!(s.client_log.enabled);
        assert_eq!(s.client_log.limit_bytes, 1_048_576);
        assert_eq!(s.client_log.cmd, None);
        assert_eq!(s.precision, -20);
    }

    #[test]
    fn from_config_defaults_and_noclientlog() {
        let s = ServerConfig::from_config(&config("noclientlog\n"), 1e-9, resolve)
            .expect("server config");
        assert!(!s.client_log.enabled);
        assert_eq!(s.client_log.ntp, None);
        assert!(!s.access.is_allowed("10.0.0.1".parse().expect("ip")));
        // `allow` alone opens both families.
        let s = ServerConfig::from_config(&config("allow\n"), 1e-9, resolve).expect("config");
        assert!(s.access.is_allowed("10.0.0.1".parse().expect("ip")));
        assert!(s.access.is_allowed("2001:db8::1".parse().expect("ip")));
    }

    #[test]
    fn unresolvable_host_is_an_error() {
        let err = ServerConfig::from_config(&config("allow nowhere.example\n"), 1e-9, resolve)
            .expect_err("unresolved");
        assert_eq!(err, ServerError::UnresolvedHost("nowhere.example".into()));
    }

    #[test]
    fn precision_rounds_to_nearest_power_of_two() {
        assert_eq!(precision_log2(1.0), 0);
        assert_eq!(precision_log2(2.0f64.powf(-20.4)), -20);
        assert_eq!(precision_log2(2.0f64.powf(-20.6)), -21);
        assert_eq!(precision_log2(0.0), MIN_PRECISION);
        assert_eq!(precision_log2(f64::NAN), MIN_PRECISION);
        assert_eq!(precision_log2(1e-12), MIN_PRECISION);
    }
}
