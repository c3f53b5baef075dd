//! Writing times the way each export writes them.
//!
//! The simulator works in whole seconds ([`Timestamp`] with zero microseconds), so every shape
//! can render the same instant exactly and `truth.json` can name it without rounding.

use std::fmt::Write as _;

use keywarden_model::Timestamp;

/// Calendar parts of a timestamp (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    pub fn of(t: Timestamp) -> Civil {
        let secs = t.unix_seconds();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem / 60) % 60) as u32,
            second: (rem % 60) as u32,
        }
    }
}

/// Unified Audit Log `CreationTime`: `2023-06-05T04:05:03` (UTC, no zone, no fraction).
pub fn ual(t: Timestamp, out: &mut String) {
    let c = Civil::of(t);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

/// RFC 3339 with `Z`: `2023-06-05T04:05:03Z` (Graph `createdDateTime`).
pub fn zulu(t: Timestamp, out: &mut String) {
    ual(t, out);
    out.push('Z');
}

/// Log Analytics / diagnostic settings: seven fractional digits, `2023-06-05T04:05:03.0000000Z`.
pub fn log_analytics(t: Timestamp, out: &mut String) {
    ual(t, out);
    out.push_str(".0000000Z");
}

/// Purview's US locale: `6/5/2023 4:05:03 AM`.
pub fn us_locale(t: Timestamp, out: &mut String) {
    let c = Civil::of(t);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    let _ = write!(
        out,
        "{}/{}/{} {}:{:02}:{:02} {}",
        c.month, c.day, c.year, h12, c.minute, c.second, ampm
    );
}

/// `YYYY-MM-DD`, for file names.
pub fn date(t: Timestamp) -> String {
    let c = Civil::of(t);
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

/// Midnight UTC of a `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<Timestamp> {
    let t = Timestamp::parse(&format!("{s}T00:00:00Z"))?;
    (date(t) == s).then_some(t)
}

/// Shorthand for the renderers: a fresh string.
pub fn render(f: fn(Timestamp, &mut String), t: Timestamp) -> String {
    let mut s = String::with_capacity(32);
    f(t, &mut s);
    s
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendering_parses_back_to_the_same_instant() {
        let t = Timestamp::parse("2023-06-05T16:07:08Z").unwrap();
        for f in [ual, zulu, log_analytics, us_locale] {
            let s = render(f, t);
            assert_eq!(Timestamp::parse(&s), Some(t), "{s}");
        }
        assert_eq!(render(us_locale, t), "6/5/2023 4:07:08 PM");
        let midnight = Timestamp::parse("2023-06-05T00:00:09Z").unwrap();
        assert_eq!(render(us_locale, midnight), "6/5/2023 12:00:09 AM");
        assert_eq!(render(ual, t), "2023-06-05T16:07:08");
        assert_eq!(render(log_analytics, t), "2023-06-05T16:07:08.0000000Z");
    }

    #[test]
    fn dates_round_trip() {
        let t = parse_date("2024-02-29").unwrap();
        assert_eq!(date(t), "2024-02-29");
        assert_eq!(parse_date("2023-02-30"), None);
        assert_eq!(parse_date("June"), None);
    }
}
