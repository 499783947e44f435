//! BBB API checksums: hash algorithms, the `LOADBALANCER_CHECKSUM_ALGORITHM` allow-list, verifying an inbound
//! checksum and signing an outbound call.
//!
//! A BBB checksum is `lowercase_hex(H(call + queryWithoutChecksum + secret))` where `H` is inferred from the
//! length of the hex string. [`verify`] holds the only constant-time comparison of the code base; removing the
//! checksum parameter from a query is `crate::bbb::params::split_checksum`.
//!
//! Difference from the original, on purpose: upper-case hex is accepted (as bbb-web 2.5.7+ does).

#[cfg(test)]
mod tests;

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::{Choice, ConstantTimeEq};

use crate::domain::Secret;

/// A checksum hash algorithm, as BBB infers it from the length of the hex checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-1, 40 hex characters.
    Sha1,
    /// SHA-256, 64 hex characters.
    Sha256,
    /// SHA-384, 96 hex characters. bbb-web accepts it; Scalelite never accepts it inbound.
    Sha384,
    /// SHA-512, 128 hex characters.
    Sha512,
}

/// Which checksum algorithms inbound requests may use, and which one outbound BBB calls are signed with;
/// parsed from `LOADBALANCER_CHECKSUM_ALGORITHM`.
///
/// `SHA384` may be listed (so a configuration copied from bbb-web's list does not stop the service) but is
/// never accepted inbound, as in the original, where a 96-character checksum is rejected before the list
/// is consulted: [`AllowedAlgorithms::contains`] is always `false` for it, and it is never chosen outbound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedAlgorithms {
    sha1: bool,
    sha256: bool,
    sha512: bool,
    outbound: Algorithm,
}

/// `LOADBALANCER_CHECKSUM_ALGORITHM` holds something other than `:`-separated algorithm names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumConfigError {
    /// An entry is not one of `SHA1`, `SHA256`, `SHA384`, `SHA512` (upper-case, as the original compares
    /// them case-sensitively).
    #[error(
        "LOADBALANCER_CHECKSUM_ALGORITHM: unknown algorithm {entry:?} (expected SHA1, SHA256, SHA384 or SHA512 \
         in upper case, separated by `:`)"
    )]
    UnknownAlgorithm {
        /// The offending entry, trimmed.
        entry: String,
    },
}

/// Why an inbound checksum was rejected. The API answers every variant with BBB's `checksumError`; the
/// variants exist for a debug log line. None of them carries the secret or the checksum value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// No secret is configured (or the tenant has none).
    #[error("no secret configured to verify the checksum against")]
    NoSecrets,
    /// The `checksum` parameter is absent, empty or whitespace-only.
    #[error("checksum parameter missing or blank")]
    Missing,
    /// The checksum length matches no algorithm (40, 64, 96 or 128 hex characters).
    #[error("checksum has {len} characters, which matches no algorithm")]
    UnsupportedLength {
        /// Length of the supplied checksum, in bytes.
        len: usize,
    },
    /// The algorithm is not in `LOADBALANCER_CHECKSUM_ALGORITHM` (SHA-384 never is).
    #[error("checksum algorithm {algorithm} is not allowed")]
    NotAllowed {
        /// The algorithm inferred from the checksum length.
        algorithm: Algorithm,
    },
    /// The checksum contains a character that is not a hex digit.
    #[error("checksum is not hexadecimal")]
    NotHex,
    /// Well-formed, allowed, but no configured secret produces it.
    #[error("{algorithm} checksum matches none of the configured secrets")]
    Mismatch {
        /// The algorithm inferred from the checksum length.
        algorithm: Algorithm,
    },
}

impl Algorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
    ];

    /// The algorithm whose lower-case hex digest has `len` characters: 40, 64, 96 or 128.
    pub fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            40 => Some(Algorithm::Sha1),
            64 => Some(Algorithm::Sha256),
            96 => Some(Algorithm::Sha384),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// The algorithm named exactly (case-sensitively) `SHA1`, `SHA256`, `SHA384` or `SHA512`.
    pub fn from_name(name: &str) -> Option<Self> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The upper-case name used in `LOADBALANCER_CHECKSUM_ALGORITHM`: `SHA1`, `SHA256`, `SHA384`, `SHA512`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha384 => "SHA384",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Length of the hex digest: 40, 64, 96 or 128.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 40,
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    /// Lower-case hex digest of `data`.
    pub fn hex_digest(self, data: &[u8]) -> String {
        hex::encode(self.digest(&[data]))
    }

    /// Raw digest of the concatenation of `parts`, hashed incrementally so the secret is never copied into
    /// a temporary string.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Algorithm::Sha1 => run::<Sha1>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
            Algorithm::Sha384 => run::<Sha384>(parts),
            Algorithm::Sha512 => run::<Sha512>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AllowedAlgorithms {
    /// Parses the value of `LOADBALANCER_CHECKSUM_ALGORITHM`.
    ///
    /// - `None` (unset): the original's default `SHA1:SHA256:SHA512`, outbound SHA-256.
    /// - Blank (empty or whitespace-only): nothing is accepted inbound, outbound SHA-256.
    /// - Otherwise `:`-separated upper-case names. Entries are trimmed and empty entries skipped. Outbound
    ///   uses the strongest of SHA-512 and SHA-256 that is listed, else SHA-1 (also when only SHA-384 is
    ///   listed, as in the original).
    ///
    /// # Errors
    /// [`ChecksumConfigError::UnknownAlgorithm`] naming the first entry that is not an algorithm name. The
    /// original silently ignored such entries (a lower-case `sha256` disabled SHA-256); we fail at start-up.
    pub fn parse(value: Option<&str>) -> Result<Self, ChecksumConfigError> {
        let Some(value) = value else {
            return Ok(AllowedAlgorithms {
                sha1: true,
                sha256: true,
                sha512: true,
                outbound: Algorithm::Sha256,
            });
        };
        if value.trim().is_empty() {
            return Ok(AllowedAlgorithms {
                sha1: false,
                sha256: false,
                sha512: false,
                outbound: Algorithm::Sha256,
            });
        }
        let mut allowed = AllowedAlgorithms {
            sha1: false,
            sha256: false,
            sha512: false,
            outbound: Algorithm::Sha1,
        };
        for entry in value.split(':').map(str::trim).filter(|e| !e.is_empty()) {
            match Algorithm::from_name(entry) {
                Some(Algorithm::Sha1) => allowed.sha1 = true,
                Some(Algorithm::Sha256) => allowed.sha256 = true,
                Some(Algorithm::Sha384) => {}
                Some(Algorithm::Sha512) => allowed.sha512 = true,
                None => {
                    return Err(ChecksumConfigError::UnknownAlgorithm {
                        entry: entry.to_owned(),
                    });
                }
            }
        }
        allowed.outbound = if allowed.sha512 {
            Algorithm::Sha512
        } else if allowed.sha256 {
            Algorithm::Sha256
        } else {
            Algorithm::Sha1
        };
        Ok(allowed)
    }

    /// Whether an inbound checksum made with `algorithm` is accepted. Always `false` for SHA-384.
    pub fn contains(&self, algorithm: Algorithm) -> bool {
        match algorithm {
            Algorithm::Sha1 => self.sha1,
            Algorithm::Sha256 => self.sha256,
            Algorithm::Sha384 => false,
            Algorithm::Sha512 => self.sha512,
        }
    }

    /// The algorithm outbound BBB calls are signed with.
    pub fn outbound(&self) -> Algorithm {
        self.outbound
    }
}

impl Default for AllowedAlgorithms {
    /// The configuration with `LOADBALANCER_CHECKSUM_ALGORITHM` unset: `SHA1:SHA256:SHA512`, outbound SHA-256.
    fn default() -> Self {
        AllowedAlgorithms {
            sha1: true,
            sha256: true,
            sha512: true,
            outbound: Algorithm::Sha256,
        }
    }
}

/// Verifies an inbound checksum: `checksum` must equal `hex(H(call + check_string + secret))` for one of
/// `secrets`, where `H` is inferred from the checksum's length and must be allowed by `allowed`.
///
/// `check_string` is the query without the checksum parameter (`crate::bbb::params::split_checksum`), or the
/// rebuilt body string of `crate::bbb::params::verify_request`. Hex is compared case-insensitively (upper-case accepted, as
/// BBB 2.5.7+ does) and in constant time; every secret is tried, with no early exit.
///
/// # Errors
/// A [`ChecksumError`] saying why; the API answers all of them with `checksumError`.
pub fn verify(
    call: &str,
    check_string: &str,
    checksum: &str,
    secrets: &[Secret],
    allowed: &AllowedAlgorithms,
) -> Result<Algorithm, ChecksumError> {
    if checksum.trim().is_empty() {
        return Err(ChecksumError::Missing);
    }
    if secrets.is_empty() {
        return Err(ChecksumError::NoSecrets);
    }
    let algorithm =
        Algorithm::from_hex_len(checksum.len()).ok_or(ChecksumError::UnsupportedLength {
            len: checksum.len(),
        })?;
    if !allowed.contains(algorithm) {
        return Err(ChecksumError::NotAllowed { algorithm });
    }
    // `hex::decode` accepts either case, which is what makes the comparison case-insensitive.
    let supplied = hex::decode(checksum).map_err(|_| ChecksumError::NotHex)?;
    let mut matched = Choice::from(0);
    for secret in secrets {
        let expected = algorithm.digest(&[
            call.as_bytes(),
            check_string.as_bytes(),
            secret.expose().as_bytes(),
        ]);
        matched |= expected.as_slice().ct_eq(supplied.as_slice());
    }
    if bool::from(matched) {
        Ok(algorithm)
    } else {
        Err(ChecksumError::Mismatch { algorithm })
    }
}

/// Signs an outbound call: lower-case hex of `H(call + query + secret)`.
pub fn sign(call: &str, query: &str, secret: &Secret, algorithm: Algorithm) -> String {
    hex::encode(algorithm.digest(&[
        call.as_bytes(),
        query.as_bytes(),
        secret.expose().as_bytes(),
    ]))
}
