//! Small encoding helpers shared by the modules (lower-case hex, random bytes).

use rand::RngCore;

/// Lower-case hexadecimal encoding.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes hexadecimal (either case) into exactly `N` bytes; `None` on any other input.
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// `N` bytes from the thread-local CSPRNG (ChaCha seeded and periodically reseeded from
/// the operating system). It panics only if the operating system has no entropy source
/// at all, in which case nothing in this crate could work anyway.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes = [0x00, 0x7f, 0x80, 0xff, 0x12];
        assert_eq!(to_hex(&bytes), "007f80ff12");
        assert_eq!(from_hex::<5>("007F80ff12"), Some(bytes));
    }

    #[test]
    fn hex_rejects_bad_input() {
        assert_eq!(from_hex::<2>("abc"), None);
        assert_eq!(from_hex::<2>("abcg"), None);
        assert_eq!(from_hex::<2>("abcdef"), None);
        assert_eq!(from_hex::<1>("é"), None);
    }
}
