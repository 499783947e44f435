//! Fuzzing on stable Rust: one target per parser that takes network or archive input, a structure-aware mutator
//! and a deterministic driver.
//!
//! - [`targets`]: each target is a `fn(&[u8])` that feeds the bytes to the real parsing entry points (query strings,
//!   checksum verification, form bodies, BBB XML answers, `metadata.xml`, tar import, admin JSON, JWTs) and
//!   asserts the properties that must hold for every input. A panic is a finding.
//! - [`mutate`]: turns a valid input from the corpus into a hostile one (byte flips, splices, truncation,
//!   repetition, interesting tokens, deep nesting, huge numbers, tar header fields).
//! - [`driver`]: runs the corpus, the saved regressions and a bounded number of generated cases per target, each
//!   case derived from the seed and its number alone, so any case replays on its own.
//!
//! The test binary (`tests/fuzz.rs`) installs a capping global allocator, so an input that makes a parser allocate
//! more than its bound ([`driver::allocation_bound`]) fails the run instead of going unnoticed.

pub mod driver;
pub mod mutate;
pub mod targets;

/// A small deterministic random number generator (SplitMix64): the same seed gives the same cases on every machine
/// and with every version of every dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // The modulo bias is irrelevant for fuzzing.
        (self.next_u64() % n as u64) as usize
    }

    /// True once in `n` calls on average.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One of a non-empty list of byte strings.
    pub fn token<'a>(&mut self, tokens: &[&'a [u8]]) -> &'a [u8] {
        tokens[self.below(tokens.len())]
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
