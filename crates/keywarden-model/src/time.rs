//! UTC timestamps as microseconds since the Unix epoch, with parsers for every date shape the
//! supported exports use.
//!
//! Audit exports write time in many ways: RFC 3339 with or without a zone and with up to seven
//! fractional digits (`2021-08-02T13:11:39.7724491Z`), a space instead of `T`, and Purview's
//! US-locale `9/20/2023 4:05:03 AM`. A time without a zone is taken as UTC (that is what every
//! Microsoft export means by it).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, UTC, microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Timestamp {
    pub fn from_unix_seconds(s: i64) -> Timestamp {
        Timestamp(s.saturating_mul(MICROS_PER_SECOND))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SECOND)
    }

    /// Adds a signed number of seconds, saturating.
    pub fn plus_seconds(self, s: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(s.saturating_mul(MICROS_PER_SECOND)))
    }

    /// Midnight UTC of this timestamp's day.
    pub fn day_start(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(MICROS_PER_DAY))
    }

    /// Days since the epoch (for per-day buckets).
    pub fn day_number(self) -> i64 {
        self.0.div_euclid(MICROS_PER_DAY)
    }

    /// Hour of day, 0..24.
    pub fn hour(self) -> u32 {
        (self.0.rem_euclid(MICROS_PER_DAY) / (3600 * MICROS_PER_SECOND)) as u32
    }

    /// ISO weekday, Monday = 1 .. Sunday = 7.
    pub fn iso_weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (4).
        ((self.day_number() + 3).rem_euclid(7) + 1) as u32
    }

    /// A UTC calendar date and time; `None` when any part is out of range (a leap second, 60,
    /// is read as 59, as everywhere else in keywarden).
    pub fn from_civil(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Option<Timestamp> {
        from_parts(year, month, day, hour, minute, second, 0)
    }

    /// Parses any supported textual date; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() >= 10 && b[4] == b'-' {
            parse_iso(b)
        } else if b.contains(&b'/') {
            parse_us_locale(t)
        } else {
            None
        }
    }

    /// RFC 3339 in UTC with `Z`; fractional seconds only when present (6 digits).
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let rem = self.0.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = rem / MICROS_PER_SECOND;
        let micros = rem % MICROS_PER_SECOND;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {s:?}")))
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Some(n)
}

fn from_parts(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, micros: i64) -> Option<Timestamp> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Microseconds since 1970 in an i64 reach about 292 000 years either way; a year further
    // out (the US-locale form takes up to nine digits) is not a timestamp, and the arithmetic
    // below must not overflow on it.
    if y.unsigned_abs() > MAX_YEARS {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3600)?)?
        .checked_add(mi.checked_mul(60)?)?
        .checked_add(s.min(59))?;
    secs.checked_mul(MICROS_PER_SECOND)?
        .checked_add(micros)
        .map(Timestamp)
}

/// Years from 1970 beyond which no timestamp is representable (`i64` microseconds).
const MAX_YEARS: u64 = 300_000;

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|±HH[:]MM]`
fn parse_iso(b: &[u8]) -> Option<Timestamp> {
    let y = digits(b.get(0..4)?)?;
    let mo = digits(b.get(5..7)?)?;
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let d = digits(b.get(8..10)?)?;
    if b.len() == 10 {
        return from_parts(y, mo, d, 0, 0, 0, 0);
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let h = digits(b.get(11..13)?)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let mi = digits(b.get(14..16)?)?;
    let mut i = 16;
    let mut s = 0;
    if b.get(i) == Some(&b':') {
        s = digits(b.get(17..19)?)?;
        i = 19;
    }
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() {
            return None;
        }
        let mut scale = 100_000i64;
        for &c in frac.iter().take(6) {
            micros += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let mut offset_secs = 0i64;
    match b.get(i) {
        None => {}
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
                4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
                2 => (digits(rest)?, 0),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            offset_secs = (oh * 3600 + om * 60) * if sign == b'+' { 1 } else { -1 };
        }
        _ => return None,
    }
    let t = from_parts(y, mo, d, h, mi, s, micros)?;
    Some(Timestamp(t.0 - offset_secs * MICROS_PER_SECOND))
}

/// `M/D/YYYY h:mm[:ss] [AM|PM]` as Purview and Excel write it.
fn parse_us_locale(t: &str) -> Option<Timestamp> {
    let mut parts = t.split_whitespace();
    let date = parts.next()?;
    let time = parts.next();
    let ampm = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let mut dp = date.split('/');
    let mo = digits(dp.next()?.as_bytes())?;
    let d = digits(dp.next()?.as_bytes())?;
    let y = digits(dp.next()?.as_bytes())?;
    if dp.next().is_some() || y < 1000 {
        return None;
    }
    let (mut h, mi, s) = match time {
        None => (0, 0, 0),
        Some(tm) => {
            let mut tp = tm.split(':');
            let h = digits(tp.next()?.as_bytes())?;
            let mi = digits(tp.next()?.as_bytes())?;
            let s = match tp.next() {
                Some(x) => digits(x.as_bytes())?,
                None => 0,
            };
            if tp.next().is_some() {
                return None;
            }
            (h, mi, s)
        }
    };
    match ampm.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if (1..=12).contains(&h) => h %= 12,
        Some("PM") if (1..=12).contains(&h) => h = h % 12 + 12,
        Some(_) => return None,
    }
    from_parts(y, mo, d, h, mi, s, 0)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `detect_coverage` fuzz target (`--signin-coverage all@/2/4/777772`): a
    /// US-locale date with a six-digit year overflowed the microsecond arithmetic (a panic
    /// with overflow checks, a wrong time without).
    #[test]
    fn regression_far_year_overflowed_timestamp_arithmetic() {
        assert_eq!(Timestamp::parse("2/4/777772"), None);
        assert_eq!(Timestamp::parse("12/31/999999999 11:59:59 PM"), None);
        assert_eq!(Timestamp::from_civil(i64::MAX, 1, 1, 0, 0, 0), None);
        assert_eq!(Timestamp::from_civil(2024, 1, 1, i64::MIN, 0, 0), None);
        // The representable range still parses.
        assert!(Timestamp::parse("2/4/2023").is_some());
        assert!(Timestamp::parse("2/4/200000").is_some());
    }

    fn p(s: &str) -> String {
        Timestamp::parse(s)
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into())
    }

    #[test]
    fn parses_export_shapes() {
        assert_eq!(p("2023-09-20T04:05:03"), "2023-09-20T04:05:03Z");
        assert_eq!(p("2021-08-02T13:32:07Z"), "2021-08-02T13:32:07Z");
        assert_eq!(
            p("2021-08-02T13:11:39.7724491Z"),
            "2021-08-02T13:11:39.772449Z"
        );
        assert_eq!(p("2021-08-02 13:11:39"), "2021-08-02T13:11:39Z");
        assert_eq!(p("2021-08-02T15:11:39+02:00"), "2021-08-02T13:11:39Z");
        assert_eq!(p("2021-08-02T10:11:39-0300"), "2021-08-02T13:11:39Z");
        assert_eq!(p("9/20/2023 4:05:03 AM"), "2023-09-20T04:05:03Z");
        assert_eq!(p("9/20/2023 12:05:03 AM"), "2023-09-20T00:05:03Z");
        assert_eq!(p("12/31/2023 11:59:59 PM"), "2023-12-31T23:59:59Z");
        assert_eq!(p("2024-02-29"), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2023-02-30T00:00:00Z",
            "2023-13-01",
            "9/20/2023 13:05:03 PM",
            "2023-09-20T04:05:03Q",
            "yesterday",
            "",
            "2023-09-20T04:05:03+99:00",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn calendar_helpers() {
        let t = Timestamp::parse("2023-07-14T08:30:00Z").unwrap();
        assert_eq!(t.hour(), 8);
        assert_eq!(t.iso_weekday(), 5); // a Friday
        assert_eq!(t.day_start().to_string(), "2023-07-14T00:00:00Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999Z");
    }
}
