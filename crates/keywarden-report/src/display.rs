//! Small formatting helpers shared by the terminal table and the HTML report: compact UTC
//! times, plurals and width-limited text. They never escape; callers escape for their
//! destination first (terminal) or afterwards (HTML, which cuts raw text then escapes it).

use keywarden_model::Timestamp;

/// `2023-06-15 04:05:03` (UTC, seconds precision), or `-` when unknown.
pub fn compact_time(t: Option<Timestamp>) -> String {
    match t {
        Some(t) => {
            let s = t.to_string().replacen('T', " ", 1);
            match s.get(..19) {
                Some(head) if s.len() > 19 => head.to_string(),
                _ => s.trim_end_matches('Z').to_string(),
            }
        }
        None => "-".to_string(),
    }
}

/// `""` for one, `"s"` otherwise.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `s` cut to at most `max` characters, the last one `…` when something was cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_compact_utc() {
        assert_eq!(
            compact_time(Timestamp::parse("2023-06-15T04:05:03.123Z")),
            "2023-06-15 04:05:03"
        );
        assert_eq!(
            compact_time(Timestamp::parse("2023-06-15T04:05:03Z")),
            "2023-06-15 04:05:03"
        );
        assert_eq!(compact_time(None), "-");
    }

    #[test]
    fn cut_marks_what_it_removed() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("éééé", 2), "é…");
    }
}
