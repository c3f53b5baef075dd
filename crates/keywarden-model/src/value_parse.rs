//! A byte-level JSON parser producing [`Value`] directly, without serde's visitor machinery.
//!
//! It accepts exactly what `serde_json` accepts (strict RFC 8259: no trailing commas, no
//! comments, no NaN, control characters in strings rejected, `\u` escapes with paired
//! surrogates only, at most 127 nested containers) and yields the same value, number kinds
//! included. It never reports errors itself: on any doubt it returns `None` and
//! [`Value::parse`] re-parses with `serde_json` ([`Value::parse_reference`]), which produces
//! the error (message, line, column) unchanged. Floats are computed here only where
//! `serde_json`'s own arithmetic is exact (significand below 2^53, power of ten at most 22,
//! one multiplication or division); other float texts are handed to `serde_json` one number
//! at a time.
//!
//! Objects and arrays are collected on shared scratch stacks and moved into a vector of the
//! exact length when they close, so each container costs one allocation.

use std::borrow::Cow;

use crate::value::{Object, Value};

/// serde_json starts with 128 levels of budget and fails when a container would use the last.
const MAX_DEPTH: usize = 128;

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses one complete JSON text; `None` when the text is invalid or a case this parser
/// leaves to `serde_json`.
pub(crate) fn parse(text: &str) -> Option<Value<'_>> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        items: Vec::new(),
        pairs: Vec::new(),
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    (p.pos == p.bytes.len()).then_some(v)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Elements of the arrays being parsed, innermost last.
    items: Vec<Value<'a>>,
    /// Members of the objects being parsed, innermost last.
    pairs: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value starting at `pos` (whitespace already skipped); `depth` containers enclose it.
    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    #[inline]
    fn literal(&mut self, word: &[u8], v: Value<'a>) -> Option<Value<'a>> {
        let end = self.pos.checked_add(word.len())?;
        (self.bytes.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            v
        })
    }

    fn array(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(Value::Array(Vec::new()));
        }
        let start = self.items.len();
        loop {
            if self.peek()? == b'"'
                && let Some(s) = self.plain_string()
            {
                self.items.push(Value::Str(Cow::Borrowed(s)));
            } else {
                let v = self.value(depth)?;
                self.items.push(v);
            }
            self.skip_ws();
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b',' => self.skip_ws(),
                b']' => break,
                _ => return None,
            }
        }
        Some(Value::Array(self.items.drain(start..).collect()))
    }

    fn object(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(Value::Object(Object(Vec::new())));
        }
        let start = self.pairs.len();
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let k = match self.plain_string() {
                Some(s) => Cow::Borrowed(s),
                None => self.escaped_string()?,
            };
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_ws();
            // Strings are most members' values: parsed here, without the dispatch.
            // Plain strings and small integers are most members' values: pushed straight
            // into place, without the dispatch and its moves.
            let b = self.peek()?;
            if b == b'"'
                && let Some(s) = self.plain_string()
            {
                self.pairs.push((k, Value::Str(Cow::Borrowed(s))));
            } else if b.is_ascii_digit()
                && let Some(i) = self.small_int()
            {
                self.pairs.push((k, Value::Int(i)));
            } else {
                let v = self.value(depth)?;
                self.pairs.push((k, v));
            }
            self.skip_ws();
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b',' => self.skip_ws(),
                b'}' => break,
                _ => return None,
            }
        }
        Some(Value::Object(Object(self.pairs.drain(start..).collect())))
    }

    /// A string starting at the opening quote: borrowed unless it holds an escape.
    #[inline(always)]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        match self.plain_string() {
            Some(s) => Some(Cow::Borrowed(s)),
            None => self.escaped_string(),
        }
    }

    /// The common case of [`Parser::string`]: no escape before the closing quote. `None`
    /// (with `pos` unchanged) otherwise.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        let stop = find_special(self.bytes, start);
        if self.bytes.get(stop) != Some(&b'"') {
            return None;
        }
        let s = self.text.get(start..stop)?;
        self.pos = stop + 1;
        Some(s)
    }

    /// A string whose first stop byte (at `stop`) is not its closing quote.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos + 1;
        let stop = find_special(self.bytes, start);
        if self.bytes.get(stop)? != &b'\\' {
            return None; // a control character, or the end of the text
        }
        let mut out = String::with_capacity(stop - start + 16);
        out.push_str(self.text.get(start..stop)?);
        self.pos = stop;
        self.escaped_rest(&mut out)?;
        Some(Cow::Owned(out))
    }

    /// The remainder of a string from the backslash at `pos`, appended to `out`.
    fn escaped_rest(&mut self, out: &mut String) -> Option<()> {
        loop {
            let esc = *self.bytes.get(self.pos + 1)?;
            self.pos += 2;
            match esc {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.unicode_escape()?),
                _ => return None,
            }
            let start = self.pos;
            let stop = find_special(self.bytes, start);
            out.push_str(self.text.get(start..stop)?);
            match self.bytes.get(stop)? {
                b'"' => {
                    self.pos = stop + 1;
                    return Some(());
                }
                b'\\' => self.pos = stop,
                _ => return None,
            }
        }
    }

    /// The character of a `\u` escape whose four hex digits start at `pos`; a leading
    /// surrogate must be followed by `\u` and a trailing one, as serde_json requires.
    fn unicode_escape(&mut self) -> Option<char> {
        let n = self.hex4()?;
        match n {
            0xDC00..=0xDFFF => None,
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2)? != b"\\u" {
                    return None;
                }
                self.pos += 2;
                let n2 = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&n2) {
                    return None;
                }
                char::from_u32((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000)
            }
            _ => char::from_u32(n),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut n = 0u32;
        for &d in digits {
            n = (n << 4) | char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }

    /// The common case of [`Parser::number`]: a non-negative integer of at most 18 digits, no
    /// fraction, no exponent, no leading zero. `None` (with `pos` unchanged) otherwise.
    #[inline(always)]
    fn small_int(&mut self) -> Option<i64> {
        let mut i = self.pos;
        let mut n: i64 = 0;
        while let Some(&d) = self.bytes.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i - self.pos == 18 {
                return None;
            }
            n = n * 10 + i64::from(d - b'0');
            i += 1;
        }
        let digits = i - self.pos;
        if digits == 0
            || (digits > 1 && self.bytes.get(self.pos) == Some(&b'0'))
            || matches!(self.bytes.get(i), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.pos = i;
        Some(n)
    }

    /// Appends the decimal digits at `pos` to `sig`, flagging an overflow past `u64` (the
    /// number then goes to serde_json); returns how many digits there were.
    fn digits(&mut self, sig: &mut u64, overflow: &mut bool) -> i64 {
        let mut n = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            self.pos += 1;
            n += 1;
            match sig
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(d - b'0')))
            {
                Some(s) => *sig = s,
                None => *overflow = true,
            }
        }
        n
    }

    /// A number, with serde_json's kinds: integers that fit an `i64` are `Int`, larger
    /// non-negative ones `UInt`; `-0`, fractions, exponents and overflowing integers `Float`.
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.pos;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        // Significand digits (integer and fraction parts) and whether they overflowed 2^64.
        let mut sig: u64 = 0;
        let mut overflow = false;
        match self.peek()? {
            b'0' => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits(&mut sig, &mut overflow);
            }
            _ => return None,
        }
        let mut is_float = false;
        let mut exp10: i64 = 0;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            match self.digits(&mut sig, &mut overflow) {
                0 => return None,
                n => exp10 -= n,
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            is_float = true;
            self.pos += 1;
            let exp_negative = match self.peek() {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return None;
            }
            let mut e: i64 = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                self.pos += 1;
                // Saturate: anything this large is left to serde_json below.
                e = e.saturating_mul(10).saturating_add(i64::from(d - b'0'));
                e = e.min(1 << 40);
            }
            exp10 += if exp_negative { -e } else { e };
        }
        if !is_float && !overflow {
            return Some(if !negative {
                match i64::try_from(sig) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::UInt(sig),
                }
            } else if sig == 0 {
                Value::Float(-0.0)
            } else if sig <= 1 << 63 {
                Value::Int(0i64.wrapping_sub_unsigned(sig))
            } else {
                Value::Float(-(sig as f64))
            });
        }
        if !overflow && sig < 1 << 53 && (-22..=22).contains(&exp10) {
            // serde_json's arithmetic for this case, bit for bit: one exact operand times
            // or divided by one exact power of ten.
            let pow = *POW10.get(exp10.unsigned_abs() as usize)?;
            let f = if exp10 >= 0 {
                sig as f64 * pow
            } else {
                sig as f64 / pow
            };
            return Some(Value::Float(if negative { -f } else { f }));
        }
        // Rare: let serde_json parse this number's text on its own.
        match Value::parse_reference(self.text.get(start..self.pos)?) {
            Ok(v @ (Value::Float(_) | Value::Int(_) | Value::UInt(_))) => Some(v),
            _ => None,
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Index of the first `"`, `\` or control byte (< 0x20) at or after `i`, or `bytes.len()`.
/// Eight bytes at a time: in each word, the lowest flagged byte of these bit tricks is exact.
#[inline(always)]
fn find_special(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_special_finds_the_first_stop_byte_in_words_and_tails() {
        let text = b"abcdefghijklmno\"pq\\";
        assert_eq!(find_special(text, 0), 15);
        assert_eq!(find_special(text, 16), 18);
        assert_eq!(find_special(b"abc\x01def", 0), 3);
        assert_eq!(find_special("é€😀 plain".as_bytes(), 0), 15);
        assert_eq!(find_special(b"\x7f\x80\xff  ", 0), 5);
    }

    #[test]
    fn numbers_take_serde_json_kinds() {
        let v = parse(
            "[0,-0,9223372036854775807,9223372036854775808,-9223372036854775808,-9223372036854775809,1.0,1e2,-1.5e-3]",
        );
        let a = v.as_ref().and_then(Value::as_array).map(<[_]>::to_vec);
        use Value::{Float, Int, UInt};
        let expected = [
            Int(0),
            Float(-0.0),
            Int(i64::MAX),
            UInt(1 << 63),
            Int(i64::MIN),
        ];
        let expected2 = [
            Float(-9223372036854775809.0),
            Float(1.0),
            Float(100.0),
            Float(-0.0015),
        ];
        assert_eq!(a, Some([&expected[..], &expected2[..]].concat()));
    }

    #[test]
    fn leaves_every_error_to_serde_json() {
        let cases =
            r#"| |[1,]|{"a":1,}|01|1.|1e|-|"\ud800"|"\udc00"|nul|[1 2]|{"a" 1}|{1:2}|"\x"|1 2|NaN"#;
        for bad in cases.split('|').chain(["\"a\u{1}\""]) {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn nesting_stops_at_serde_json_limit() {
        let ok = "[".repeat(127) + &"]".repeat(127);
        let too_deep = "[".repeat(128) + &"]".repeat(128);
        assert!(parse(&ok).is_some());
        assert!(parse(&too_deep).is_none());
    }
}
