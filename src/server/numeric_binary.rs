//! PostgreSQL's binary form of `numeric` (`numeric_send`, `numeric_recv`), written from
//! and read into decimal text, so that values of any width travel exactly (arrow-pg's
//! own goes through a 96-bit decimal: 28 digits at most).
//!
//! The form: `ndigits`, `weight`, `sign`, `dscale` as 16-bit integers, then `ndigits`
//! base-10000 digits, most significant first; the value is
//! `Σ digit[i] · 10000^(weight − i)`, printed with `dscale` decimal places.

/// `sign` of a positive number or zero.
const POSITIVE: u16 = 0x0000;
/// `sign` of a negative number.
const NEGATIVE: u16 = 0x4000;
/// `sign` of `NaN`, which Sluice's numerics do not hold.
const NAN: u16 = 0xC000;

/// The binary form of the decimal text `text` (`-123.4500`, as Arrow prints a decimal).
pub fn from_text(text: &str) -> Vec<u8> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let integer = integer.trim_start_matches('0');
    let scale = fraction.len();
    // Whole groups of four digits either side of the point.
    let lead = (4 - integer.len() % 4) % 4;
    let trail = (4 - scale % 4) % 4;
    let padded: Vec<u8> = std::iter::repeat_n(b'0', lead)
        .chain(integer.bytes())
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', trail))
        .collect();
    let mut groups: Vec<i16> = padded
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |group, digit| group * 10 + i16::from(digit - b'0'))
        })
        .collect();
    let mut weight = ((lead + integer.len()) / 4) as i32 - 1;
    let leading_zeros = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading_zeros);
    weight -= leading_zeros as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let sign = if negative && !groups.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    };
    if groups.is_empty() {
        weight = 0;
    }
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as i16).to_be_bytes());
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    out
}

/// The decimal text of the binary form `bytes`, with `dscale` decimal places; why it
/// cannot be read otherwise.
pub fn to_text(bytes: &[u8]) -> Result<String, String> {
    let field = |at: usize| -> Result<i16, String> {
        bytes
            .get(at..at + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "insufficient data left in message".to_string())
    };
    let (ndigits, weight, sign, dscale) = (field(0)?, field(2)?, field(4)? as u16, field(6)?);
    if sign == NAN {
        return Err("NaN is not a numeric value Sluice can hold".into());
    }
    if !matches!(sign, POSITIVE | NEGATIVE) || ndigits < 0 || dscale < 0 {
        return Err("invalid sign in external \"numeric\" value".into());
    }
    if bytes.len() != 8 + 2 * ndigits as usize {
        return Err("incorrect binary data format in bind parameter".into());
    }
    let groups = (0..ndigits as usize)
        .map(|i| field(8 + 2 * i))
        .collect::<Result<Vec<_>, _>>()?;
    if groups.iter().any(|g| !(0..10000).contains(g)) {
        return Err("invalid digit in external \"numeric\" value".into());
    }
    // Digits of 10000^weight down to 10000^(weight − ndigits + 1), and zeros around
    // them to reach the point either side.
    let (weight, dscale) = (i32::from(weight), dscale as usize);
    let first = weight.max(0);
    let last = (weight - i32::from(ndigits) + 1).min(-1);
    let mut digits = String::new();
    for power in (last..=first).rev() {
        let index = weight - power;
        let group = if (0..i32::from(ndigits)).contains(&index) {
            groups[index as usize]
        } else {
            0
        };
        digits.push_str(&format!("{group:04}"));
    }
    let point = 4 * (first as usize + 1);
    let integer = digits[..point].trim_start_matches('0');
    let mut fraction = digits[point..].to_string();
    fraction.truncate(dscale);
    while fraction.len() < dscale {
        fraction.push('0');
    }
    let mut text = String::new();
    if sign == NEGATIVE {
        text.push('-');
    }
    text.push_str(if integer.is_empty() { "0" } else { integer });
    if dscale > 0 {
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `numeric_send`'s bytes for each value, as PostgreSQL 15 sends them
    /// (`SELECT numeric_send(v)`).
    #[test]
    fn writes_and_reads_postgres_bytes() {
        let cases = [
            ("0", "0000000000000000"),
            ("0.00", "0000000000000002"),
            ("1.50", "000200000000000200011388"),
            ("-123.4500", "0002000040000004007b1194"),
            ("10000", "00010001000000000001"),
            (
                "12193263113702131827312952861.625",
                "0009000700000003000108910a47055a08532051050f0b2d186a",
            ),
            ("0.0001", "0001ffff000000040001"),
            ("123456789.000012", "0005000200000006000109291a85000004b0"),
        ];
        for (text, hex) in cases {
            let bytes = from_text(text);
            let expected = hex_bytes(hex);
            assert_eq!(bytes, expected, "{text}");
            assert_eq!(to_text(&bytes).unwrap(), text);
        }
    }

    #[test]
    fn refuses_nan_and_short_messages() {
        assert!(to_text(&hex_bytes("00000000c0000000")).is_err());
        assert!(to_text(&hex_bytes("0001")).is_err());
        assert!(to_text(&hex_bytes("0002000000000000000a")).is_err());
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}
