//! The mutator: turns a valid input into a hostile one with a stack of random edits. Generic edits work on bytes
//! (flips, splices, truncation, repetition, tokens); a target adds its own tokens, the openers it nests deeply,
//! and optionally a structure-aware edit and a fix-up (the tar target edits header fields, then recomputes the
//! header checksums so the edits get past the first check).

use crate::Rng;

/// How a target's inputs are mutated.
#[derive(Clone, Copy)]
pub struct Mutator<'a> {
    /// Tokens worth inserting for this target, on top of [`COMMON_TOKENS`] and [`NUMBERS`].
    pub tokens: &'a [&'a [u8]],
    /// Openers to repeat for deep nesting (`<a>`, `[`, ...).
    pub nesting: &'a [&'a [u8]],
    /// The corpus, for splices.
    pub corpus: &'a [Vec<u8>],
    /// Inputs are cut to this many bytes.
    pub max_len: usize,
    /// A structure-aware edit, used as one of the edits.
    pub structured: Option<fn(&mut Vec<u8>, &mut Rng)>,
    /// Run after all edits, most of the time (not always, so broken structure is tried too).
    pub fix_up: Option<fn(&mut [u8])>,
}

/// Tokens every target gets: URL syntax, the checksum parameter, bad escapes and bad UTF-8, quotes, separators.
pub const COMMON_TOKENS: &[&[u8]] = &[
    b"%",
    b"%%",
    b"%2",
    b"%zz",
    b"%00",
    b"%FF",
    b"%C3%28",
    b"%ED%A0%80",
    b"%26",
    b"%3D",
    b"&",
    b"=",
    b"&&",
    b"==",
    b"+",
    b"checksum=",
    b"&checksum=",
    b"checksum",
    b"%63hecksum=",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b" ",
    b"\t",
    b"\r\n",
    b"\x7f",
    b"\x01",
    b"\"",
    b"'",
    b"\\",
    b"/",
    b"..",
    b"../",
    b"\xe2\x80\xae",
    b"\xf0\x9f\x98\x80",
];

/// Numbers at the edges of the types parsers read them into.
pub const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-0",
    b"-1",
    b"1.5",
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"NaN",
    b"inf",
    b"-inf",
    b"2147483647",
    b"2147483648",
    b"-2147483649",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"99999999999999999999999999999999999999999999",
    b"0.000000000000000000000000000000000000000001",
    b"0x10",
    b"1_000",
    b"+5",
    b"00000000000000000000000000000000000000000001",
];

/// How many times an opener is repeated for deep nesting: around the XML parser's limit, and far past it.
const NESTING_DEPTHS: [usize; 8] = [2, 16, 63, 64, 65, 129, 1_000, 20_000];

impl Mutator<'_> {
    /// Apply a stack of 1 to 32 random edits to `input`.
    pub fn mutate(&self, input: &mut Vec<u8>, rng: &mut Rng) {
        let most = 1 << rng.below(6);
        let edits = 1 + rng.below(most);
        for _ in 0..edits {
            self.edit(input, rng);
            input.truncate(self.max_len);
        }
        if let Some(fix_up) = self.fix_up {
            if !rng.one_in(8) {
                fix_up(input);
            }
        }
    }

    fn edit(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        match rng.below(14) {
            0 => {
                if !data.is_empty() {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                }
            }
            1 => {
                if !data.is_empty() {
                    let at = rng.below(data.len());
                    data[at] =
                        *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, b'%', b'&', b'=', b'<', b'>', b'"']);
                }
            }
            2 | 3 => {
                let token = self.token(rng);
                let at = rng.below(data.len() + 1);
                data.splice(at..at, token.iter().copied());
            }
            4 => {
                let (start, end) = range(data, rng);
                let token = self.token(rng);
                data.splice(start..end, token.iter().copied());
            }
            5 => {
                let (start, end) = range(data, rng);
                data.drain(start..end);
            }
            6 => {
                let (start, end) = range(data, rng);
                let chunk = data[start..end].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, chunk);
            }
            7 => {
                // Repetition: the same chunk many times in a row (many parameters, many elements, long runs).
                let (start, end) = range(data, rng);
                let chunk = data[start..end].to_vec();
                if !chunk.is_empty() {
                    let most = 1 << rng.below(12);
                    let times = 1 + rng.below(most);
                    let room = self.max_len.saturating_sub(data.len()) / chunk.len();
                    let copies = chunk.repeat(times.min(room));
                    data.splice(end..end, copies);
                }
            }
            8 => {
                let at = rng.below(data.len() + 1);
                data.truncate(at);
            }
            9 => {
                // Splice: a prefix of this input and a suffix of another.
                let other = rng.pick(self.corpus);
                let at = rng.below(data.len() + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            10 => self.replace_number(data, rng),
            11 => {
                if !self.nesting.is_empty() {
                    let opener = rng.pick(self.nesting);
                    let depth = *rng.pick(&NESTING_DEPTHS);
                    let room = self.max_len.saturating_sub(data.len()) / opener.len().max(1);
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, opener.repeat(depth.min(room)));
                }
            }
            12 => {
                if !data.is_empty() {
                    let at = rng.below(data.len());
                    data[at] = rng.next_u64().to_le_bytes()[0];
                }
            }
            _ => match self.structured {
                Some(structured) => structured(data, rng),
                None => {
                    let token = self.token(rng);
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, token.iter().copied());
                }
            },
        }
    }

    fn token(&self, rng: &mut Rng) -> &[u8] {
        match rng.below(3) {
            0 if !self.tokens.is_empty() => rng.token(self.tokens),
            1 => rng.token(NUMBERS),
            _ => rng.token(COMMON_TOKENS),
        }
    }

    /// Replace a run of digits (the first one at or after a random position) with an edge-case number.
    fn replace_number(&self, data: &mut Vec<u8>, rng: &mut Rng) {
        let from = rng.below(data.len() + 1);
        let Some(start) = data[from..]
            .iter()
            .position(u8::is_ascii_digit)
            .map(|p| from + p)
        else {
            let at = rng.below(data.len() + 1);
            data.splice(at..at, rng.pick(NUMBERS).iter().copied());
            return;
        };
        let end = data[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(data.len(), |p| start + p);
        data.splice(start..end, rng.pick(NUMBERS).iter().copied());
    }
}

/// A random range of `data`, at most a quarter of it (and at least one byte when there is one).
fn range(data: &[u8], rng: &mut Rng) -> (usize, usize) {
    let start = rng.below(data.len() + 1);
    let longest = (data.len() / 4).max(1).min(data.len() - start);
    (start, start + rng.below(longest + 1))
}
