//! Typed request bodies (the data after the 20-byte request header).
//!
//! Integer fields keep their wire type (signed where candm.h says int32_t),
//! so that any request parses and re-emits to the same value; `Float`
//! fields are decoded to f64 (every `Float` is exact in an f64).

use super::cursor::{Reader, Writer};
use super::types::{CmdAddr, NAME_LEN, Name};
use crate::Error;

/// A source address plus a mask (ONLINE, OFFLINE): the command applies to
/// sources whose address matches `address` under `mask`. Both `Unspec`
/// means all sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MaskAddress {
    /// The mask.
    pub mask: CmdAddr,
    /// The address.
    pub address: CmdAddr,
}

impl MaskAddress {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(MaskAddress {
            mask: r.addr()?,
            address: r.addr()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.mask)?;
        w.addr(&self.address)
    }
}

/// BURST: make matching sources send a burst of requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Burst {
    /// Which sources (both `Unspec` = all).
    pub target: MaskAddress,
    /// Good samples wanted.
    pub n_good_samples: i32,
    /// Most requests to send.
    pub n_total_samples: i32,
}

impl Burst {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Burst {
            target: MaskAddress::read(r)?,
            n_good_samples: r.i32()?,
            n_total_samples: r.i32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.target.write(w)?;
        w.i32(self.n_good_samples)?;
        w.i32(self.n_total_samples)
    }
}

/// A source address and an integer (MODIFY_MINPOLL, MODIFY_MAXPOLL,
/// MODIFY_MINSTRATUM, MODIFY_POLLTARGET).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SourceInt {
    /// The source.
    pub address: CmdAddr,
    /// The new value.
    pub value: i32,
}

impl SourceInt {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(SourceInt {
            address: r.addr()?,
            value: r.i32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.address)?;
        w.i32(self.value)
    }
}

/// A source address and a number (MODIFY_MAXDELAY, MODIFY_MAXDELAYRATIO,
/// MODIFY_MAXDELAYDEVRATIO).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SourceFloat {
    /// The source.
    pub address: CmdAddr,
    /// The new value.
    pub value: f64,
}

impl SourceFloat {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(SourceFloat {
            address: r.addr()?,
            value: r.float()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.address)?;
        w.float(self.value)
    }
}

/// An address and prefix length (ALLOW, DENY, CMDALLOW, ... and the ALL
/// forms). chronyc sends `Unspec` and bits 0 for "all addresses", and the
/// address's full length (32 or 128) when no prefix length was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Subnet {
    /// The address.
    pub ip: CmdAddr,
    /// The prefix length.
    pub subnet_bits: i32,
}

impl Subnet {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Subnet {
            ip: r.addr()?,
            subnet_bits: r.i32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.ip)?;
        w.i32(self.subnet_bits)
    }
}

/// LOCAL2 / LOCAL3: switch local reference mode on or off.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Local {
    /// Non-zero to enable.
    pub on_off: i32,
    /// Stratum to serve.
    pub stratum: i32,
    /// The `distance` option, seconds.
    pub distance: f64,
    /// Non-zero for orphan mode.
    pub orphan: i32,
    /// The options added in LOCAL3 (chrony ≥ 4.6); `None` for LOCAL2.
    pub ext: Option<LocalExt>,
}

/// The fields LOCAL3 adds to LOCAL2.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct LocalExt {
    /// The `activate` option (root distance), seconds.
    pub activate: f64,
    /// The `waitsynced` option, seconds.
    pub wait_synced: f64,
    /// The `waitunsynced` option, seconds.
    pub wait_unsynced: f64,
}

impl Local {
    pub(crate) fn read(r: &mut Reader<'_>, ext: bool) -> Result<Self, Error> {
        let mut l = Local {
            on_off: r.i32()?,
            stratum: r.i32()?,
            distance: r.float()?,
            orphan: r.i32()?,
            ext: None,
        };
        if ext {
            l.ext = Some(LocalExt {
                activate: r.float()?,
                wait_synced: r.float()?,
                wait_unsynced: r.float()?,
            });
        }
        Ok(l)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.i32(self.on_off)?;
        w.i32(self.stratum)?;
        w.float(self.distance)?;
        w.i32(self.orphan)?;
        if let Some(e) = &self.ext {
            w.float(e.activate)?;
            w.float(e.wait_synced)?;
            w.float(e.wait_unsynced)?;
        }
        Ok(())
    }
}

/// MODIFY_MAKESTEP: the `makestep` directive's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ModifyMakestep {
    /// How many updates may still step (negative = no limit).
    pub limit: i32,
    /// Step when the offset is larger than this, seconds.
    pub threshold: f64,
}

/// CLIENT_ACCESSES_BY_INDEX3: a page of the client log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientAccessesQuery {
    /// Index of the first record.
    pub first_index: u32,
    /// How many records (chronyd returns at most 8).
    pub n_clients: u32,
    /// Skip clients with fewer hits.
    pub min_hits: u32,
    /// Non-zero to reset the counters after reading.
    pub reset: u32,
}

/// MODIFY_SELECTOPTS: change a source's selection options. `mask` and
/// `options` use the [`AddSourceFlags`] bits PREFER, NOSELECT, TRUST and
/// REQUIRE: bits in `mask` are set to their value in `options`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ModifySelectOpts {
    /// The source (`Unspec` to select by `ref_id`, for reference clocks).
    pub address: CmdAddr,
    /// Reference ID of a reference clock.
    pub ref_id: u32,
    /// Which options to change.
    pub mask: AddSourceFlags,
    /// Their new values.
    pub options: AddSourceFlags,
}

/// MODIFY_OFFSET: change a source's `offset` option.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ModifyOffset {
    /// The source (`Unspec` to select by `ref_id`).
    pub address: CmdAddr,
    /// Reference ID of a reference clock.
    pub ref_id: u32,
    /// The new offset, seconds.
    pub offset: f64,
}

/// The `type` field of ADD_SOURCE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceKind(pub u32);

impl SourceKind {
    /// `server`.
    pub const SERVER: SourceKind = SourceKind(1);
    /// `peer`.
    pub const PEER: SourceKind = SourceKind(2);
    /// `pool`.
    pub const POOL: SourceKind = SourceKind(3);
}

/// The `flags` field of ADD_SOURCE (`REQ_ADDSRC_*`), also used by
/// MODIFY_SELECTOPTS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AddSourceFlags(pub u32);

impl AddSourceFlags {
    /// Start online (cleared by the `offline` option).
    pub const ONLINE: u32 = 0x1;
    /// `auto_offline`.
    pub const AUTOOFFLINE: u32 = 0x2;
    /// `iburst`.
    pub const IBURST: u32 = 0x4;
    /// `prefer`.
    pub const PREFER: u32 = 0x8;
    /// `noselect`.
    pub const NOSELECT: u32 = 0x10;
    /// `trust`.
    pub const TRUST: u32 = 0x20;
    /// `require`.
    pub const REQUIRE: u32 = 0x40;
    /// `xleave`.
    pub const INTERLEAVED: u32 = 0x80;
    /// `burst`.
    pub const BURST: u32 = 0x100;
    /// `nts`.
    pub const NTS: u32 = 0x200;
    /// `copy`.
    pub const COPY: u32 = 0x400;
    /// `extfield F323` (chrony ≤ 4.3 called this bit EF_EXP1).
    pub const EF_EXP_MONO_ROOT: u32 = 0x800;
    /// `extfield F324` (chrony ≥ 4.5).
    pub const EF_NET_CORRECTION: u32 = 0x1000;
    /// `ipv4` (chrony ≥ 4.6).
    pub const IPV4: u32 = 0x2000;
    /// `ipv6` (chrony ≥ 4.6).
    pub const IPV6: u32 = 0x4000;

    /// Whether every bit of `flag` is set.
    pub fn contains(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
}

/// ADD_SOURCE: add a server, peer or pool, with all options of the
/// directive that chronyc can pass (352 bytes of data).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AddSource {
    /// server, peer or pool.
    pub kind: SourceKind,
    /// Host name or address.
    pub name: Name,
    /// `port`.
    pub port: u32,
    /// `minpoll`.
    pub minpoll: i32,
    /// `maxpoll`.
    pub maxpoll: i32,
    /// `presend`.
    pub presend_minpoll: i32,
    /// `minstratum`.
    pub min_stratum: u32,
    /// `polltarget`.
    pub poll_target: u32,
    /// `version` (0 = default).
    pub version: u32,
    /// `maxsources` (pools).
    pub max_sources: u32,
    /// `minsamples`.
    pub min_samples: i32,
    /// `maxsamples`.
    pub max_samples: i32,
    /// `key`.
    pub authkey: u32,
    /// `ntsport`.
    pub nts_port: u32,
    /// `maxdelay`, seconds.
    pub max_delay: f64,
    /// `maxdelayratio`.
    pub max_delay_ratio: f64,
    /// `maxdelaydevratio`.
    pub max_delay_dev_ratio: f64,
    /// `mindelay`, seconds.
    pub min_delay: f64,
    /// `asymmetry`.
    pub asymmetry: f64,
    /// `offset`, seconds.
    pub offset: f64,
    /// Boolean options.
    pub flags: AddSourceFlags,
    /// `filter`.
    pub filter_length: i32,
    /// `certset`.
    pub cert_set: u32,
    /// `maxdelayquant`.
    pub max_delay_quant: f64,
    /// `maxunreach` (chrony ≥ 4.6; a reserved zero before).
    pub max_unreach: i32,
}

impl AddSource {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(AddSource {
            kind: SourceKind(r.u32()?),
            name: Name::from_field(r.take(NAME_LEN)?),
            port: r.u32()?,
            minpoll: r.i32()?,
            maxpoll: r.i32()?,
            presend_minpoll: r.i32()?,
            min_stratum: r.u32()?,
            poll_target: r.u32()?,
            version: r.u32()?,
            max_sources: r.u32()?,
            min_samples: r.i32()?,
            max_samples: r.i32()?,
            authkey: r.u32()?,
            nts_port: r.u32()?,
            max_delay: r.float()?,
            max_delay_ratio: r.float()?,
            max_delay_dev_ratio: r.float()?,
            min_delay: r.float()?,
            asymmetry: r.float()?,
            offset: r.float()?,
            flags: AddSourceFlags(r.u32()?),
            filter_length: r.i32()?,
            cert_set: r.u32()?,
            max_delay_quant: r.float()?,
            max_unreach: r.i32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u32(self.kind.0)?;
        w.put(&self.name.to_field())?;
        w.u32(self.port)?;
        for v in [self.minpoll, self.maxpoll, self.presend_minpoll] {
            w.i32(v)?;
        }
        for v in [
            self.min_stratum,
            self.poll_target,
            self.version,
            self.max_sources,
        ] {
            w.u32(v)?;
        }
        w.i32(self.min_samples)?;
        w.i32(self.max_samples)?;
        w.u32(self.authkey)?;
        w.u32(self.nts_port)?;
        for v in [
            self.max_delay,
            self.max_delay_ratio,
            self.max_delay_dev_ratio,
            self.min_delay,
            self.asymmetry,
            self.offset,
        ] {
            w.float(v)?;
        }
        w.u32(self.flags.0)?;
        w.i32(self.filter_length)?;
        w.u32(self.cert_set)?;
        w.float(self.max_delay_quant)?;
        w.i32(self.max_unreach)
    }
}

/// Which SERVER_STATS reply a client expects, told by how far it padded
/// its request (chrony changed the reply twice without a new command).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ServerStatsVersion {
    /// SERVER_STATS2, 8 × u32 (chrony 4.0–4.1): request 60 bytes.
    V2,
    /// SERVER_STATS3, 11 × u32 (chrony 4.2–4.3, Debian 12): request 72 bytes.
    V3,
    /// SERVER_STATS4, 17 × u64 + 4 reserved (chrony ≥ 4.4): request 196 bytes.
    #[default]
    V4,
}

/// Which NTP_DATA reply a client expects, told by its request's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NtpDataVersion {
    /// NTP_DATA (chrony ≤ 4.5, Debian 12): request 152 bytes.
    V1,
    /// NTP_DATA2, with kernel/hardware timestamp counters (chrony ≥ 4.6):
    /// request 172 bytes.
    #[default]
    V2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_source_is_352_bytes_and_round_trips() {
        let a = AddSource {
            kind: SourceKind::POOL,
            name: Name::from("pool.example.org"),
            port: 123,
            minpoll: -2,
            maxpoll: 10,
            max_delay: 0.5,
            flags: AddSourceFlags(AddSourceFlags::ONLINE | AddSourceFlags::IBURST),
            max_unreach: 100_000,
            ..AddSource::default()
        };
        let mut buf = [0u8; 352];
        a.write(&mut Writer::new(&mut buf)).expect("fits");
        assert_eq!(&buf[..4], &[0, 0, 0, 3]);
        assert_eq!(&buf[4..20], b"pool.example.org");
        assert_eq!(&buf[260..264], &[0, 0, 0, 123]);
        assert_eq!(&buf[264..268], &(-2i32).to_be_bytes());
        assert_eq!(&buf[308..312], &0x0280_0000u32.to_be_bytes()); // 0.5
        assert_eq!(&buf[332..336], &[0, 0, 0, 5]);
        assert_eq!(&buf[348..352], &100_000u32.to_be_bytes());
        assert_eq!(AddSource::read(&mut Reader::new(&buf)), Ok(a.clone()));
        assert!(a.write(&mut Writer::new(&mut [0u8; 351])).is_err());
    }

    #[test]
    fn flags_contain() {
        let f = AddSourceFlags(AddSourceFlags::PREFER | AddSourceFlags::TRUST);
        assert!(f.contains(AddSourceFlags::PREFER));
        assert!(!f.contains(AddSourceFlags::PREFER | AddSourceFlags::NOSELECT));
    }
}
