//! `to_char(number, pattern)` as PostgreSQL 15 writes numbers (`NUM_processor` in
//! formatting.c): `9` (a digit, or a space for a leading zero), `0` (a digit, zeros
//! kept), `.` and `D` (the decimal point), `,` and `G` (a group separator, or a space
//! before the first digit), `S` (a sign anchored to the number), `MI`, `PL`, `SG` (a
//! sign at that place), `PR` (a negative number in angle brackets), `FM` (no padding,
//! no trailing zeros after the point), and other characters and `"quoted text"`
//! copied. The number is rounded to the pattern's places (numerics half away from
//! zero, floats as `printf` rounds their binary value, to at most 15 significant digits
//! for a `double precision` and 6 for a `real`); an integer part too wide for the
//! pattern prints as `#`s. The locale is C's: `.` and `,`.
//!
//! Refused (`0A000`): `EEEE`, `RN`, `TH`, `V`, `L` and `B` patterns, and a float that
//! is not finite.

use crate::error::{SluiceError, sqlstate};

/// A number to format: its sign and its digits as text, rounded to `post` places.
pub(super) trait Formattable {
    /// `(negative, digits, places)`: the absolute value with exactly `places` digits
    /// after a `.` (none and no point for 0): `post`, or for a float as many of them as
    /// its significant digits allow.
    fn text(&self, post: usize) -> Result<(bool, String, usize), SluiceError>;
}

/// An integer.
pub(super) struct Integer(pub i64);

/// A decimal's text as Arrow writes it (`-12.340`).
pub(super) struct Decimal(pub String);

/// A float: a `double precision` (15 significant digits) or a `real` (6).
pub(super) struct Float {
    pub value: f64,
    pub digits: usize,
}

impl Formattable for Integer {
    fn text(&self, post: usize) -> Result<(bool, String, usize), SluiceError> {
        let mut text = self.0.unsigned_abs().to_string();
        if post > 0 {
            text.push('.');
            text.extend(std::iter::repeat_n('0', post));
        }
        Ok((self.0 < 0, text, post))
    }
}

impl Formattable for Decimal {
    fn text(&self, post: usize) -> Result<(bool, String, usize), SluiceError> {
        let (negative, digits) = match self.0.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.0.as_str()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let text = rounded(whole, fraction, post);
        let zero = text.chars().all(|c| c == '0' || c == '.');
        Ok((negative && !zero, text, post))
    }
}

impl Formattable for Float {
    fn text(&self, post: usize) -> Result<(bool, String, usize), SluiceError> {
        if !self.value.is_finite() {
            return Err(SluiceError::not_supported(
                "to_char of an infinite or NaN float is not supported",
            ));
        }
        let whole = format!("{:.0}", self.value.abs()).len();
        let post = if whole >= self.digits {
            0
        } else {
            post.min(self.digits - whole)
        };
        let text = format!("{:.*}", post, self.value);
        Ok(match text.strip_prefix('-') {
            Some(rest) => (true, rest.to_string(), post),
            None => (false, text, post),
        })
    }
}

/// `whole.fraction` rounded half away from zero to `post` places (`post` digits after
/// a point, no point for 0).
fn rounded(whole: &str, fraction: &str, post: usize) -> String {
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .collect();
    let kept = whole.len() + post;
    let round_up = fraction.len() > post && fraction.as_bytes()[post] >= b'5';
    digits.resize(kept, 0);
    if round_up {
        let mut at = kept;
        loop {
            if at == 0 {
                digits.insert(0, 1);
                break;
            }
            at -= 1;
            if digits[at] == 9 {
                digits[at] = 0;
            } else {
                digits[at] += 1;
                break;
            }
        }
    }
    let whole_len = digits.len() - post;
    let mut text: String = digits[..whole_len]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    // numeric_out writes "0", never an empty whole part, nor leading zeros.
    let trimmed = text.trim_start_matches('0').to_string();
    text = if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed
    };
    if post > 0 {
        text.push('.');
        text.extend(digits[whole_len..].iter().map(|d| char::from(b'0' + d)));
    }
    text
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Nine,
    Zero,
    Point,
    Comma,
    Group,
    Sign,
    Minus,
    Plus,
    SignAlways,
    Brackets,
    FillMode,
    Nothing,
    Text(char),
}

/// Where an `S` puts the sign: before or after the number.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AnchoredSign {
    Before,
    After,
}

/// What a pattern asks for (PostgreSQL's `NUMDesc`).
#[derive(Debug, Default, Clone)]
struct Description {
    pre: usize,
    post: usize,
    decimal: bool,
    zero: bool,
    zero_start: usize,
    zero_end: usize,
    fill: bool,
    anchored: Option<AnchoredSign>,
    pre_anchored: usize,
    minus: bool,
    plus: bool,
    brackets: bool,
}

fn syntax(message: &str) -> SluiceError {
    SluiceError::coded(sqlstate::SYNTAX_ERROR, message)
}

/// The nodes of `pattern` and what they ask for, or PostgreSQL's error.
fn parse(pattern: &str) -> Result<(Vec<Node>, Description), SluiceError> {
    const REFUSED: &[&str] = &[
        "EEEE", "eeee", "RN", "rn", "TH", "th", "V", "v", "L", "l", "B", "b",
    ];
    let chars: Vec<char> = pattern.chars().collect();
    let mut nodes = Vec::new();
    let mut d = Description::default();
    let mut at = 0;
    while at < chars.len() {
        let rest: String = chars[at..].iter().take(4).collect();
        let keyword = |k: &str| rest.starts_with(k);
        if let Some(k) = REFUSED.iter().find(|k| keyword(k)) {
            return Err(SluiceError::not_supported(format!(
                "to_char of a number with the pattern {} is not supported",
                k.to_uppercase()
            )));
        }
        let (node, len) = if keyword("FM") || keyword("fm") {
            (Node::FillMode, 2)
        } else if keyword("MI") || keyword("mi") {
            (Node::Minus, 2)
        } else if keyword("PL") || keyword("pl") {
            (Node::Plus, 2)
        } else if keyword("SG") || keyword("sg") {
            (Node::SignAlways, 2)
        } else if keyword("PR") || keyword("pr") {
            (Node::Brackets, 2)
        } else if keyword("SP") || keyword("sp") {
            // Keywords of PostgreSQL's that write nothing.
            (Node::Nothing, 2)
        } else if chars[at] == 'C' || chars[at] == 'c' {
            (Node::Nothing, 1)
        } else {
            match chars[at] {
                '9' => (Node::Nine, 1),
                '0' => (Node::Zero, 1),
                '.' => (Node::Point, 1),
                'D' | 'd' => (Node::Point, 1),
                ',' => (Node::Comma, 1),
                'G' | 'g' => (Node::Group, 1),
                'S' | 's' => (Node::Sign, 1),
                '"' => {
                    at += 1;
                    while at < chars.len() && chars[at] != '"' {
                        if chars[at] == '\\' && at + 1 < chars.len() {
                            at += 1;
                        }
                        nodes.push(Node::Text(chars[at]));
                        at += 1;
                    }
                    at += 1;
                    continue;
                }
                '\\' if chars.get(at + 1) == Some(&'"') => (Node::Text('"'), 2),
                c => (Node::Text(c), 1),
            }
        };
        describe(&mut d, &node)?;
        nodes.push(node);
        at += len;
    }
    Ok((nodes, d))
}

/// `d` updated for `node`, as `NUMDesc_prepare` does.
fn describe(d: &mut Description, node: &Node) -> Result<(), SluiceError> {
    match node {
        Node::Nine | Node::Zero => {
            if d.brackets {
                return Err(syntax(if *node == Node::Nine {
                    "\"9\" must be ahead of \"PR\""
                } else {
                    "\"0\" must be ahead of \"PR\""
                }));
            }
            if *node == Node::Zero && !d.zero && !d.decimal {
                d.zero = true;
                d.zero_start = d.pre + 1;
            }
            if d.decimal {
                d.post += 1;
            } else {
                d.pre += 1;
            }
            if *node == Node::Zero {
                d.zero_end = d.pre + d.post;
            }
        }
        Node::Point => {
            if d.decimal {
                return Err(syntax("multiple decimal points"));
            }
            d.decimal = true;
        }
        Node::FillMode => d.fill = true,
        Node::Sign => {
            if d.anchored.is_some() {
                return Err(syntax("cannot use \"S\" twice"));
            }
            if d.plus || d.minus || d.brackets {
                return Err(syntax(
                    "cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together",
                ));
            }
            // Before the point the sign goes before the number, unless no digit
            // follows the S (see `Processor::new`); after it, after the number.
            if d.decimal {
                d.anchored = Some(AnchoredSign::After);
            } else {
                d.anchored = Some(AnchoredSign::Before);
                d.pre_anchored = d.pre;
            }
        }
        Node::Minus => {
            if d.anchored.is_some() {
                return Err(syntax("cannot use \"S\" and \"MI\" together"));
            }
            d.minus = true;
        }
        Node::Plus => {
            if d.anchored.is_some() {
                return Err(syntax("cannot use \"S\" and \"PL\" together"));
            }
            d.plus = true;
        }
        Node::SignAlways => {
            if d.anchored.is_some() {
                return Err(syntax("cannot use \"S\" and \"SG\" together"));
            }
            d.plus = true;
            d.minus = true;
        }
        Node::Brackets => {
            if d.anchored.is_some() || d.plus || d.minus {
                return Err(syntax(
                    "cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together",
                ));
            }
            d.brackets = true;
        }
        Node::Comma | Node::Group | Node::Nothing | Node::Text(_) => {}
    }
    Ok(())
}

/// A pattern read once, to write many numbers with.
pub(super) struct Pattern {
    nodes: Vec<Node>,
    description: Description,
}

impl Pattern {
    /// `pattern` read, or PostgreSQL's error for it.
    pub(super) fn parse(pattern: &str) -> Result<Pattern, SluiceError> {
        let (nodes, description) = parse(pattern)?;
        Ok(Pattern { nodes, description })
    }

    /// `value` written with this pattern, as PostgreSQL's `to_char` writes it.
    pub(super) fn write(&self, value: &dyn Formattable) -> Result<String, SluiceError> {
        let mut d = self.description.clone();
        let (negative, text, post) = value.text(d.post)?;
        d.post = post;
        let whole = text.find('.').unwrap_or(text.len());
        let (number, out_pre_spaces) = if whole > d.pre {
            let mut hashes = "#".repeat(d.pre + d.post + 1);
            hashes.replace_range(d.pre..=d.pre, ".");
            (hashes, 0)
        } else {
            (text, d.pre - whole)
        };
        Ok(Processor::new(d, number, out_pre_spaces, negative).run(&self.nodes))
    }
}

/// The state of `NUM_processor` writing one number.
struct Processor {
    d: Description,
    number: Vec<char>,
    /// Where the next digit of `number` is.
    at: usize,
    negative: bool,
    sign_wrote: bool,
    /// PostgreSQL's count of digits less one, -1 for a pattern without any.
    num_count: i64,
    num_in: bool,
    num_curr: usize,
    out_pre_spaces: usize,
    /// The last digit after the point worth writing in fill mode (an index into
    /// `number`).
    last_relevant: Option<usize>,
    out: String,
}

impl Processor {
    fn new(mut d: Description, number: String, out_pre_spaces: usize, negative: bool) -> Self {
        let number: Vec<char> = number.chars().collect();
        if d.zero_start > 0 {
            d.zero_start -= 1;
        }
        let sign_wrote = if d.plus || d.minus {
            // PL alone still writes a minus in the number.
            !d.plus || d.minus
        } else {
            if !negative && d.fill {
                d.brackets = false;
            }
            let wrote = !negative && d.fill && d.anchored.is_none();
            if d.anchored == Some(AnchoredSign::Before) && d.pre == d.pre_anchored {
                d.anchored = Some(AnchoredSign::After);
            }
            wrote
        };
        let mut num_count = (d.post + d.pre) as i64 - 1;
        let mut last_relevant = None;
        if d.fill && d.decimal {
            last_relevant = last_relevant_digit(&number);
            if let Some(last) = last_relevant
                && d.zero_end > out_pre_spaces
            {
                let last_zero = (d.zero_end - out_pre_spaces).min(number.len() - 1);
                if last < last_zero {
                    last_relevant = Some(last_zero);
                }
            }
        }
        if !sign_wrote && out_pre_spaces == 0 {
            num_count += 1;
        }
        Processor {
            d,
            number,
            at: 0,
            negative,
            sign_wrote,
            num_count,
            num_in: false,
            num_curr: 0,
            out_pre_spaces,
            last_relevant,
            out: String::new(),
        }
    }

    fn current(&self) -> char {
        self.number.get(self.at).copied().unwrap_or('\0')
    }

    fn last_relevant_is_point(&self) -> bool {
        self.last_relevant
            .is_some_and(|i| self.number.get(i) == Some(&'.'))
    }

    /// "0.1" with "9.9" is " .1": the leading zero of a fraction is not written.
    fn predecimal_space(&self) -> bool {
        !self.d.zero && self.at == 0 && self.number.first() == Some(&'0') && self.d.post != 0
    }

    fn run(mut self, nodes: &[Node]) -> String {
        for node in nodes {
            match node {
                Node::Nine | Node::Zero | Node::Point => self.number_part(node),
                Node::Comma | Node::Group => {
                    if self.num_in {
                        self.out.push(',');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Node::Minus => {
                    if self.negative {
                        self.out.push('-');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Node::Plus => {
                    if !self.negative {
                        self.out.push('+');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Node::SignAlways => self.out.push(if self.negative { '-' } else { '+' }),
                Node::Text(c) => self.out.push(*c),
                Node::Sign | Node::Brackets | Node::FillMode | Node::Nothing => {}
            }
        }
        // A digit past the end of the number wrote PostgreSQL's terminating NUL.
        match self.out.find('\0') {
            Some(end) => self.out[..end].to_string(),
            None => self.out,
        }
    }

    /// `NUM_numpart_to_char`: a digit, zero or point, and the sign where it belongs.
    fn number_part(&mut self, node: &Node) {
        self.num_in = false;
        if !self.sign_wrote
            && (self.num_curr >= self.out_pre_spaces
                || (self.d.zero && self.d.zero_start == self.num_curr))
            && (!self.predecimal_space() || self.last_relevant_is_point())
        {
            if self.d.anchored.is_some() {
                if self.d.anchored == Some(AnchoredSign::Before) {
                    self.out.push(if self.negative { '-' } else { '+' });
                    self.sign_wrote = true;
                }
            } else if self.d.brackets {
                self.out.push(if self.negative { '<' } else { ' ' });
                self.sign_wrote = true;
            } else if !self.negative {
                if !self.d.fill {
                    self.out.push(' ');
                }
                self.sign_wrote = true;
            } else {
                self.out.push('-');
                self.sign_wrote = true;
            }
        }
        if self.num_curr < self.out_pre_spaces
            && (self.d.zero_start > self.num_curr || !self.d.zero)
        {
            if !self.d.fill {
                self.out.push(' ');
            }
        } else if self.d.zero
            && self.num_curr < self.out_pre_spaces
            && self.d.zero_start <= self.num_curr
        {
            self.out.push('0');
            self.num_in = true;
        } else {
            if self.current() == '.' {
                if !self.last_relevant_is_point() || self.d.fill {
                    self.out.push('.');
                }
            } else if self
                .last_relevant
                .is_some_and(|last| self.at > last && *node != Node::Zero)
            {
            } else if self.predecimal_space() {
                if !self.d.fill {
                    self.out.push(' ');
                } else if self.last_relevant_is_point() {
                    self.out.push('0');
                }
            } else {
                self.out.push(self.current());
                self.num_in = true;
            }
            if self.at < self.number.len() {
                self.at += 1;
            }
        }
        let mut end =
            self.num_count + i64::from(self.out_pre_spaces > 0) + i64::from(self.d.decimal);
        if self.last_relevant.is_some_and(|last| last == self.at) {
            end = self.num_curr as i64;
        }
        if self.num_curr as i64 + 1 == end {
            if self.sign_wrote && self.d.brackets {
                self.out.push(if self.negative { '>' } else { ' ' });
            } else if self.d.anchored == Some(AnchoredSign::After) {
                self.out.push(if self.negative { '-' } else { '+' });
            }
        }
        self.num_curr += 1;
    }
}

/// The index of the last non-zero digit after the point of `number` (the point's if
/// there is none), as `get_last_relevant_decnum`.
fn last_relevant_digit(number: &[char]) -> Option<usize> {
    let point = number.iter().position(|c| *c == '.')?;
    Some(
        (point + 1..number.len())
            .rev()
            .find(|&i| number[i] != '0')
            .unwrap_or(point),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: &dyn Formattable, pattern: &str) -> String {
        Pattern::parse(pattern)
            .and_then(|p| p.write(value))
            .unwrap_or_else(|e| format!("error {}", e.sqlstate()))
    }

    fn numeric(text: &str) -> Decimal {
        Decimal(text.to_string())
    }

    /// Each answer is PostgreSQL 15's.
    #[test]
    fn numbers_are_written_as_postgresql_writes_them() {
        assert_eq!(written(&Integer(485), "PL999"), "+ 485");
        assert_eq!(written(&Integer(-485), "PL999"), " -485");
        assert_eq!(written(&Integer(12), "9C"), " #");
        assert_eq!(written(&Integer(12345), "999"), " ###");
        assert_eq!(written(&Integer(0), "9"), " 0");
        assert_eq!(written(&Integer(0), "9.9"), "  .0");
        assert_eq!(written(&Integer(7), "S000"), "+007");
        assert_eq!(written(&Integer(-42), "9999PR"), "  <42>");
        assert_eq!(written(&numeric("-12.5"), "S99.9"), "-12.5");
        assert_eq!(written(&numeric("12.5"), "99.9S"), "12.5+");
        assert_eq!(written(&numeric("0.5"), "9.99"), "  .50");
        assert_eq!(written(&numeric("0.5"), "0.99"), " 0.50");
        assert_eq!(written(&numeric("1"), "FM9.99"), "1.");
        assert_eq!(written(&numeric("-0.5"), "FM0.9"), "-0.5");
        assert_eq!(
            written(&numeric("1234567.891"), "FM9,999,999.00"),
            "1,234,567.89"
        );
        assert_eq!(written(&numeric("-0.001"), "9.99"), "  .00");
    }

    #[test]
    fn floats_keep_their_significant_digits() {
        let double = |value| Float { value, digits: 15 };
        // Past the 15 digits a double precision holds, the pattern's digits end the text.
        assert_eq!(
            written(&double(1.5), "9.9999999999999999"),
            " 1.50000000000000"
        );
        assert_eq!(written(&double(0.125), "9.99"), "  .12");
        assert_eq!(written(&double(f64::NAN), "999"), "error 0A000");
    }

    #[test]
    fn patterns_postgresql_refuses_are_refused_in_its_words() {
        assert_eq!(written(&Integer(1), "9.9.9"), "error 42601");
        assert_eq!(written(&Integer(1), "S9S"), "error 42601");
        assert_eq!(written(&Integer(1), "PR9"), "error 42601");
        assert_eq!(written(&Integer(1), "9EEEE"), "error 0A000");
        assert_eq!(written(&Integer(1), "RN"), "error 0A000");
    }
}
