//! Corrections applied to parsed rules before compilation, where rsigma 0.23 departs from the
//! Sigma specification (and from pySigma, the reference implementation).
//!
//! `|base64offset`: rsigma encodes the value at offsets 0, 1 and 2 but keeps the trailing
//! base64 characters that depend on the bytes *after* the value, so `http://` at offset 0
//! becomes `aHR0cDovLw` and never matches inside a longer encoded text (`aHR0cDovL2V2...`).
//! pySigma trims those characters. We rewrite such items into the three correct literal
//! variants (with `wide`/`utf16*` encodings applied first) under the remaining modifiers.

use rsigma_parser::value::SigmaString;
use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaValue};

/// Dashes a `|windash` value may hold: each becomes five variants (`-`, `/` and three Unicode
/// dashes), so n dashes give 5^n strings. rsigma allows 8 (390 625 strings): a 542-byte rule
/// with six took 531 MB to compile (found by the `sigma_rule` fuzz target, fifth run). SigmaHQ
/// rules use at most 2; 4 (625 strings) leaves room.
pub const MAX_WINDASH_DASHES: usize = 4;

/// Why a rule would expand past what loading may cost, if it would: a `|windash` value with
/// more than [`MAX_WINDASH_DASHES`] dashes (the rule is then reported as unsupported).
pub fn too_wide(rule: &SigmaRule) -> Option<String> {
    fn detection(d: &Detection) -> Option<String> {
        match d {
            Detection::AllOf(items) => items.iter().find_map(item),
            Detection::AnyOf(ds) | Detection::And(ds) => ds.iter().find_map(detection),
            Detection::ArrayMatch { body, .. } => detection(body),
            Detection::Conditional { named, .. } => named.values().find_map(detection),
            Detection::Keywords(_) => None,
        }
    }
    fn item(i: &DetectionItem) -> Option<String> {
        if !i.field.modifiers.contains(&Modifier::WindAsh) {
            return None;
        }
        i.values.iter().find_map(|v| match v {
            SigmaValue::String(s) => {
                let n = s.original.matches('-').count();
                (n > MAX_WINDASH_DASHES).then(|| {
                    format!(
                        "a |windash value with {n} dashes expands to 5^{n} strings (at most {MAX_WINDASH_DASHES} dashes)"
                    )
                })
            }
            _ => None,
        })
    }
    rule.detection.named.values().find_map(detection)
}

/// Applies every correction to one rule.
pub fn fix_rule(rule: &mut SigmaRule) {
    for d in rule.detection.named.values_mut() {
        fix_detection(d);
    }
}

fn fix_detection(d: &mut Detection) {
    match d {
        Detection::AllOf(items) => items.iter_mut().for_each(fix_item),
        Detection::AnyOf(ds) | Detection::And(ds) => ds.iter_mut().for_each(fix_detection),
        Detection::ArrayMatch { body, .. } => fix_detection(body),
        Detection::Conditional { named, .. } => named.values_mut().for_each(fix_detection),
        Detection::Keywords(_) => {}
    }
}

fn fix_item(item: &mut DetectionItem) {
    let mods = &item.field.modifiers;
    // With `|all` each value's variants would have to stay OR-linked; leave those as they are.
    if !mods.contains(&Modifier::Base64Offset) || mods.contains(&Modifier::All) {
        return;
    }
    let mut values = Vec::with_capacity(item.values.len() * 3);
    for v in &item.values {
        let SigmaValue::String(s) = v else {
            return;
        };
        let Some(plain) = s.as_plain() else {
            return; // wildcards inside an encoded value have no defined meaning
        };
        let bytes = if mods.contains(&Modifier::Wide) {
            plain.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else if mods.contains(&Modifier::Utf16be) {
            plain.encode_utf16().flat_map(u16::to_be_bytes).collect()
        } else if mods.contains(&Modifier::Utf16) {
            [0xFF, 0xFE]
                .into_iter()
                .chain(plain.encode_utf16().flat_map(u16::to_le_bytes))
                .collect()
        } else {
            plain.into_bytes()
        };
        for p in base64_offsets(&bytes) {
            values.push(SigmaValue::String(SigmaString::new(&p)));
        }
    }
    item.values = values;
    item.field.modifiers.retain(|m| {
        !matches!(
            m,
            Modifier::Base64Offset | Modifier::Wide | Modifier::Utf16be | Modifier::Utf16
        )
    });
    // base64 is case-sensitive.
    if !item.field.modifiers.contains(&Modifier::Cased) {
        item.field.modifiers.push(Modifier::Cased);
    }
}

/// pySigma's three base64 renderings of `value` as found at any byte alignment.
pub fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(value);
            let enc = base64(&padded);
            let end = enc.len().checked_sub(END_TRIM[(value.len() + i) % 3])?;
            enc.get(START[i]..end).map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"http://"), "aHR0cDovLw==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn offsets_follow_pysigma() {
        // pySigma renders `http://` as these three.
        assert_eq!(
            base64_offsets(b"http://"),
            vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]
        );
        let encoded = base64(b"xx http://evil");
        assert!(
            base64_offsets(b"http://")
                .iter()
                .any(|p| encoded.contains(p.as_str()))
        );
    }
}
