//! Byte encodings for the parts of spine keys that are not Arrow row encodings: each
//! sorts, byte by byte, as its values do, so that a spine's key order is the order an
//! operator reads in.

/// `value` as 8 bytes that sort as the values do (big-endian, sign bit flipped).
pub fn sortable_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

/// The value written by [`sortable_i64`].
pub fn from_sortable_i64(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_sort_as_the_values_and_read_back() {
        let values = [i64::MIN, -1_000_000, -1, 0, 1, 42, i64::MAX];
        for pair in values.windows(2) {
            assert!(sortable_i64(pair[0]) < sortable_i64(pair[1]));
        }
        for value in values {
            assert_eq!(from_sortable_i64(sortable_i64(value)), value);
        }
    }
}
