//! Strict base64url decoding for the hot path: URL alphabet only, no padding, a length that is
//! not 1 mod 4, and canonical (zero) trailing bits — exactly the rules of [`crate::jose::B64`],
//! which stays the encoder and the reference this decoder is tested against.
//!
//! One table lookup per character, four characters to three bytes, straight into a caller's
//! buffer: a token's header and signature decode on the stack, with no allocation.

/// Marks a byte outside the base64url alphabet in [`DECODE`].
const INVALID: u8 = 0x80;

/// Sextet value of every byte, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < alphabet.len() {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn sextet(c: u8) -> u8 {
    DECODE[usize::from(c)]
}

/// [`DECODE`] pre-shifted to each of the four positions of a quad, with bit 31 set for a byte
/// outside the alphabet: a quad decodes with four loads and three ORs.
const QUAD: [[u32; 256]; 4] = {
    let mut t = [[0u32; 256]; 4];
    let mut c = 0;
    while c < 256 {
        let v = DECODE[c] as u32;
        let bad = if v & INVALID as u32 != 0 { 1 << 31 } else { 0 };
        let mut pos = 0;
        while pos < 4 {
            t[pos][c] = if bad != 0 { bad } else { v << (18 - 6 * pos) };
            pos += 1;
        }
        c += 1;
    }
    t
};

/// Decoded length of `encoded_len` characters, or `None` when no strict input has that length.
pub fn decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        r => Some(encoded_len / 4 * 3 + r.saturating_sub(1)),
    }
}

/// Decodes `input` into `out`, which must be exactly [`decoded_len`] bytes long. Returns false
/// for any input the strict rules refuse (the contents of `out` are then unspecified).
pub fn decode_exact(input: &[u8], out: &mut [u8]) -> bool {
    if decoded_len(input.len()) != Some(out.len()) {
        return false;
    }
    let (quads, rest) = input.as_chunks::<4>();
    let (triples, tail) = out.as_chunks_mut::<3>();
    let [q0, q1, q2, q3] = &QUAD;
    let mut bad = 0u32;
    for ([a, b, c, d], o) in quads.iter().zip(triples.iter_mut()) {
        let n =
            q0[usize::from(*a)] | q1[usize::from(*b)] | q2[usize::from(*c)] | q3[usize::from(*d)];
        bad |= n;
        let [_, x, y, z] = n.to_be_bytes();
        *o = [x, y, z];
    }
    if bad >> 31 != 0 {
        return false;
    }
    match (rest, tail) {
        ([], []) => true,
        ([a, b], [x]) => {
            let (a, b) = (sextet(*a), sextet(*b));
            *x = a << 2 | b >> 4;
            (a | b) & INVALID == 0 && b & 0x0f == 0
        }
        ([a, b, c], [x, y]) => {
            let (a, b, c) = (sextet(*a), sextet(*b), sextet(*c));
            *x = a << 2 | b >> 4;
            *y = b << 4 | c >> 2;
            (a | b | c) & INVALID == 0 && c & 0x03 == 0
        }
        _ => false,
    }
}

/// Decodes `input` into a new vector of exactly the decoded length.
pub fn decode_vec(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; decoded_len(input.len())?];
    decode_exact(input, &mut out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::B64;
    use base64::Engine as _;

    fn reference(s: &[u8]) -> Option<Vec<u8>> {
        B64.decode(s).ok()
    }

    #[test]
    fn agrees_with_the_reference_engine_on_every_short_input() {
        // Every string of up to 4 characters over an alphabet that mixes valid characters
        // (with every trailing-bit pattern) and invalid ones (padding, '+', '/', '.', space, NUL).
        let chars = b"AQgBw-_9z=+/. \0\xff";
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for len in 0..=4u32 {
            for idx in 0..chars.len().pow(len) {
                let s = (0..len)
                    .map(|i| chars[idx / chars.len().pow(i) % chars.len()])
                    .collect();
                inputs.push(s);
            }
        }
        assert!(inputs.len() > 60_000);
        for s in &inputs {
            assert_eq!(decode_vec(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn agrees_with_the_reference_engine_on_long_inputs() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for n in 0..300 {
            let enc = B64.encode(&data[..n]);
            assert_eq!(decode_vec(enc.as_bytes()), Some(data[..n].to_vec()));
            // One bad character anywhere is refused.
            for pos in [0, enc.len() / 2, enc.len().saturating_sub(1)] {
                let mut bad = enc.clone().into_bytes();
                if let Some(b) = bad.get_mut(pos) {
                    *b = b'+';
                    assert_eq!(decode_vec(&bad), None);
                    assert_eq!(reference(&bad), None);
                }
            }
        }
    }

    #[test]
    fn output_length_must_be_exact() {
        let mut two = [0u8; 2];
        assert!(!decode_exact(b"Zm9v", &mut two));
        assert!(decode_exact(b"Zm8", &mut two));
        assert_eq!(&two, b"fo");
        assert_eq!(decoded_len(5), None);
        assert_eq!(decoded_len(0), Some(0));
    }
}
