//! Plain values that go in and out of an [`NtpSource`](super::NtpSource).

use std::net::{IpAddr, SocketAddr};

use krony_wire::ntp::{KissCode, LeapIndicator, NtpRepr, NtpTimestamp, RefId};

use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::stats::Sample;

use super::checks::PacketTests;
use super::report::MeasurementRecord;

/// How the association exchanges packets (RFC 5905 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Association {
    /// Client/server mode: we send mode 3 requests (`server` and `pool`).
    Client,
    /// Symmetric active mode: we send mode 1 packets (`peer`).
    SymmetricActive,
}

/// Where a local timestamp of a packet was taken (chronyc ntpdata "TX/RX
/// timestamping").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampKind {
    /// Read by the daemon before sending or after receiving.
    #[default]
    Daemon,
    /// Taken by the kernel (SO_TIMESTAMPING software timestamps).
    Kernel,
    /// Taken by the network card.
    Hardware,
}

impl TimestampKind {
    /// The word chronyc ntpdata prints.
    pub fn name(self) -> &'static str {
        match self {
            TimestampKind::Daemon => "Daemon",
            TimestampKind::Kernel => "Kernel",
            TimestampKind::Hardware => "Hardware",
        }
    }

    /// The letter of the measurements log and the cmdmon reply (`D`, `K`, `H`).
    pub fn code(self) -> char {
        match self {
            TimestampKind::Daemon => 'D',
            TimestampKind::Kernel => 'K',
            TimestampKind::Hardware => 'H',
        }
    }
}

/// A local send or receive time of a packet on the corrected ("cooked")
/// time scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTimestamp {
    /// The time.
    pub time: UnixTime,
    /// Its maximum error in seconds (chrony's `err` of a cooked-time read:
    /// the uncertainty of the correction applied to the raw clock).
    pub err: f64,
    /// Where it was taken.
    pub kind: TimestampKind,
}

impl LocalTimestamp {
    /// A daemon timestamp with no error.
    pub fn daemon(time: UnixTime) -> Self {
        LocalTimestamp {
            time,
            err: 0.0,
            kind: TimestampKind::Daemon,
        }
    }

    /// A timestamp of the given kind with no error.
    pub fn new(time: UnixTime, kind: TimestampKind) -> Self {
        LocalTimestamp {
            time,
            err: 0.0,
            kind,
        }
    }
}

/// What our own clock says about itself: the header fields a server or peer
/// puts in its packets (from the discipline's `server_params`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OurReference {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Stratum; 16 or more is sent as 0 (unsynchronised), as chrony does.
    pub stratum: u8,
    /// Reference ID.
    pub ref_id: RefId,
    /// Reference time; the epoch means none (sent as zero).
    pub ref_time: UnixTime,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
}

impl OurReference {
    /// An unsynchronised clock: leap 3, stratum 16, refid 0, root delay and
    /// dispersion 1 s (chrony's values when not synchronised).
    pub const UNSYNCHRONISED: OurReference = OurReference {
        leap: LeapIndicator::Unsynchronized,
        stratum: 16,
        ref_id: RefId::UNSYNC,
        ref_time: UnixTime::EPOCH,
        root_delay: 1.0,
        root_dispersion: 1.0,
    };
}

/// What the rest of the daemon tells a source at each call that may send or
/// test a packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalContext {
    /// Our reference (sent in symmetric packets; compared by the
    /// synchronisation-loop test).
    pub reference: OurReference,
    /// The precision of the local clock as a quantum, seconds
    /// (chrony's `LCL_GetSysPrecisionAsQuantum`).
    pub precision: f64,
    /// The same as log2 seconds, as sent in packets (`LCL_GetSysPrecisionAsLog`).
    pub precision_log2: i8,
    /// `maxclockerror` as a fraction (default 1 ppm = 1e-6).
    pub max_clock_error: f64,
    /// Whether the sync-loop test (D) applies: the reference is in normal
    /// mode and the NTP server port is open, so that sources could be our
    /// clients.
    pub check_sync_loop: bool,
    /// Whether a leap second is within a few seconds (samples are then
    /// dropped and the leap status of the source is not updated).
    pub near_leap_second: bool,
    /// Our monotonic timescale, sent to peers with `extfield F323`.
    pub mono: super::MonoScale,
}

impl Default for LocalContext {
    fn default() -> Self {
        LocalContext {
            reference: OurReference::UNSYNCHRONISED,
            precision: 1e-9,
            precision_log2: -30,
            max_clock_error: 1e-6,
            check_sync_loop: false,
            near_leap_second: false,
            mono: super::MonoScale::default(),
        }
    }
}

/// A packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub remote: SocketAddr,
    /// The whole UDP payload.
    pub bytes: Vec<u8>,
    /// The transmit timestamp written in the packet, to match a kernel or
    /// hardware TX timestamp with [`handle_tx_timestamp`](super::NtpSource::handle_tx_timestamp).
    pub transmit_ts: NtpTimestamp,
    /// True for client requests: chrony sends each request from a new socket
    /// (a new random source port) unless `acquisitionport` is set.
    pub new_client_socket: bool,
    /// For sources with a symmetric key: the key the driver must use to
    /// append a MAC to `bytes` (the engine holds no keys).
    pub mac_key_id: Option<u32>,
}

/// A packet from the source's address, with what the driver knows about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceivedPacket<'a> {
    /// The parsed packet.
    pub packet: &'a NtpRepr,
    /// When it arrived (the best RX timestamp available).
    pub rx: LocalTimestamp,
    /// The local address it arrived on, if known.
    pub local_addr: Option<IpAddr>,
    /// For a source with a symmetric key: whether the packet's MAC verified
    /// with that key (the driver holds the keys). Ignored otherwise.
    pub mac_verified: bool,
}

/// Whether the source should poll (chronyc online/offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Connectivity {
    /// Poll.
    Online,
    /// Stop polling.
    Offline,
}

/// The polling state as `chronyc activity` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Polling normally.
    Online,
    /// Not polling.
    Offline,
    /// In a burst, then back to online.
    BurstOnline,
    /// In a burst, then back to offline.
    BurstOffline,
}

/// Why a received packet was dropped before the NTP tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The packet's mode does not answer ours (RFC 5905 §9.2 table: DSCRD).
    ModeMismatch,
    /// The source is offline or not started.
    NotPolling,
}

/// The result of testing a response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestedPacket {
    /// The tests, passed = true.
    pub tests: PacketTests,
    /// Tests 1-3 and 5 passed and it is the first such response to the request.
    pub valid: bool,
    /// Also tests 6 and 7 passed: the server is synchronised.
    pub synced: bool,
    /// All tests passed: the measurement was used.
    pub good: bool,
    /// The response was in the interleaved mode.
    pub interleaved: bool,
    /// The kiss code, for a kiss-o'-death packet (stratum 0, leap 3) that
    /// passed tests 1, 2 and 5.
    pub kiss: Option<KissCode>,
    /// The sample accumulated into the source's statistics, if any (with the
    /// `filter` option it is the filter's output and may come later).
    pub sample: Option<Sample>,
}

/// What [`handle_packet`](super::NtpSource::handle_packet) did with a packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RxOutcome {
    /// A request from the remote (a client request, or a symmetric packet
    /// to a client association): answer it as a server would to an unknown
    /// host (chrony's `NCR_ProcessRxUnknown`).
    Request,
    /// Not processed.
    Dropped(DropReason),
    /// Tested as a response.
    Tested(TestedPacket),
}

/// Something the engine should act on or log.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// The source went online or offline (info: "Source %s online").
    Connectivity {
        /// True when it went online.
        online: bool,
    },
    /// A KoD RATE arrived; the poll was backed off
    /// (warning: "Received KoD RATE from %s").
    KodRate,
    /// A KoD DENY or RSTR arrived. Chrony only counts it as an
    /// unsynchronised response; with `stop_on_deny` the source also went
    /// offline.
    KodDeny {
        /// The code.
        code: KissCode,
    },
    /// A sample was accumulated into the statistics: run source selection
    /// with this source as the updated one.
    SampleAccumulated {
        /// The sample (NTP sign: positive = the source is ahead).
        sample: Sample,
        /// Stratum of the source (at least `minstratum`).
        stratum: u8,
        /// Leap status of the source.
        leap: LeapStatus,
    },
    /// The statistics were reset because the sample was older than the last
    /// one ("Out of order sample detected, discarding history for %s").
    HistoryReset,
    /// A sample was dropped near a leap second ("Dropping sample around leap
    /// second").
    SampleDroppedNearLeap,
    /// The reachability register became zero: run selection without an
    /// updated source. `full` when it held 8 polls, when chrony offers a
    /// pool source for replacement.
    Unreachable {
        /// The register has seen all 8 polls.
        full: bool,
    },
    /// A raw measurement for the `measurements` log (only for responses
    /// from synchronised servers unless `log rawmeasurements`).
    Measurement(Box<MeasurementRecord>),
    /// A parameter was changed by a command ("Source %s new minpoll %d").
    ParameterChanged {
        /// The parameter's name as chrony logs it (`minpoll`, ...).
        name: &'static str,
        /// The new value as chrony formats it (`%d` or `%f`).
        value: String,
    },
}
