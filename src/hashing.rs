//! Hashes every stage shares: SHA-256 of files and bytes (content hashes in the manifest, cache keys,
//! fingerprints), the SplitMix64 finaliser (seeds per restart, per replicate, per row), and the seeded hash of a
//! conversation's identity that decides which rows a sample takes.
//!
//! Consumes: bytes, a file path, or a seed with a (source, conversation id) pair. Produces: lowercase hex digests
//! and 64-bit hashes. Imports no stage.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use sha2::{Digest, Sha256};

/// SHA-256 of a file on disk, as lowercase hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        hasher.update(buffer);
        let n = buffer.len();
        reader.consume(n);
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SplitMix64 finaliser: every input bit reaches every output bit.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded hash of a row's identity, for sampling.
pub fn row_hash(seed: u64, source: &str, id: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in source.bytes().chain([0xff]).chain(id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV-1a alone leaves the last bytes of an id out of the top bits, which decide the order: finalise.
    mix64(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_bytes_matches_the_standard_test_vector() {
        assert_eq!(sha256_bytes(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_file_hashes_as_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, vec![7u8; 3 << 20]).unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha256_bytes(&vec![7u8; 3 << 20]));
    }

    #[test]
    fn row_hash_separates_source_from_id_and_depends_on_the_seed() {
        assert_ne!(row_hash(1, "ab", "c"), row_hash(1, "a", "bc"));
        assert_ne!(row_hash(1, "a", "b"), row_hash(2, "a", "b"));
        assert_eq!(mix64(0), 0);
    }
}
