//! Differential fuzzing of `keywarden_model::Value::parse` (the byte-level parser) against
//! `Value::parse_reference` (serde_json): for every UTF-8 input both accept with the same value
//! (floats bit for bit, strings borrowed in both or owned in both) or both reject with the same
//! error; non-UTF-8 inputs are checked after lossy conversion.
#![no_main]

use std::borrow::Cow;

use keywarden_model::Value;
use libfuzzer_sys::fuzz_target;

fn same_str(a: &str, a_borrowed: bool, b: &str, b_borrowed: bool) -> bool {
    a == b && a_borrowed == b_borrowed
}

fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::UInt(x), Value::UInt(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => same_str(
            x,
            matches!(x, Cow::Borrowed(_)),
            y,
            matches!(y, Cow::Borrowed(_)),
        ),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.0.len() == y.0.len()
                && x.0.iter().zip(&y.0).all(|((kx, vx), (ky, vy))| {
                    same_str(
                        kx,
                        matches!(kx, Cow::Borrowed(_)),
                        ky,
                        matches!(ky, Cow::Borrowed(_)),
                    ) && same(vx, vy)
                })
        }
        _ => false,
    }
}

fn check(text: &str) {
    match (Value::parse(text), Value::parse_reference(text)) {
        (Ok(a), Ok(b)) => assert!(same(&a, &b), "values differ for {text:?}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("parsers disagree on {text:?}: {a:?} / {b:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(text) => check(text),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});
