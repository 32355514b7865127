//! G.711 μ-law (PCMU) and A-law (PCMA), as in the ITU-T G.191 reference implementation
//! (`g711.c`: `ulaw_compress`/`ulaw_expand`, `alaw_compress`/`alaw_expand`).
//!
//! Samples are 16-bit linear PCM (the reference treats them as left-justified 14-bit for μ-law
//! and 13-bit for A-law, which is exactly an `i16`). The reference routines are kept as `const fn`
//! and used to build lookup tables at compile time, so the hot path is one table read per sample.
//! No crate on crates.io offers a maintained, dependency-free G.711, so the reference algorithm is
//! carried here and tested against its published values and full round-trip tables.

/// μ-law encode, ITU-T G.191 `ulaw_compress` for one sample.
const fn ulaw_compress(sample: i16) -> u8 {
    // 14-bit right-justified magnitude plus the 33 bias that separates the μ-law thresholds
    // from the A-law ones. One's complement for negatives, as the reference does.
    let mut absno: i32 = if sample < 0 {
        ((!sample) >> 2) as i32 + 33
    } else {
        (sample >> 2) as i32 + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno: i32 = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high_nibble = 0x0008 - segno;
    let low_nibble = 0x000F - ((absno >> segno) & 0x000F);
    let mut code = (high_nibble << 4) | low_nibble;
    if sample >= 0 {
        code |= 0x0080;
    }
    code as u8
}

/// μ-law decode, ITU-T G.191 `ulaw_expand` for one code.
const fn ulaw_expand(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let mantissa_all = !(code as i32);
    let exponent = (mantissa_all >> 4) & 0x0007;
    let segment = exponent + 1;
    let mantissa = mantissa_all & 0x000F;
    let step = 4 << segment;
    (sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

/// A-law encode, ITU-T G.191 `alaw_compress` for one sample.
const fn alaw_compress(sample: i16) -> u8 {
    let mut ix: i32 = if sample < 0 {
        ((!sample) >> 4) as i32
    } else {
        (sample >> 4) as i32
    };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if sample >= 0 {
        ix |= 0x0080;
    }
    (ix ^ 0x0055) as u8
}

/// A-law decode, ITU-T G.191 `alaw_expand` for one code.
const fn alaw_expand(code: u8) -> i16 {
    let ix = (code as i32 ^ 0x0055) & 0x007F;
    let iexp = ix >> 4;
    let mut mant = ix & 0x000F;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 0x0008;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    (if code > 127 { mant } else { -mant }) as i16
}

const ULAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_expand(i as u8);
        i += 1;
    }
    t
};

const ALAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_expand(i as u8);
        i += 1;
    }
    t
};

/// μ-law output depends only on `sample >> 2` (arithmetic), so 16384 entries cover every i16.
static ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // index = (sample >> 2) + 8192; any sample with that shifted value encodes alike.
        let sample = ((i as i32 - 8192) << 2) as i16;
        t[i] = ulaw_compress(sample);
        i += 1;
    }
    t
};

/// A-law output depends only on `sample >> 4` (arithmetic), so 4096 entries cover every i16.
static ALAW_ENCODE: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        let sample = ((i as i32 - 2048) << 4) as i16;
        t[i] = alaw_compress(sample);
        i += 1;
    }
    t
};

/// μ-law → A-law, through the linear value (what a G.711 transcoder does).
static ULAW_TO_ALAW: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_compress(ulaw_expand(i as u8));
        i += 1;
    }
    t
};

/// A-law → μ-law, through the linear value.
static ALAW_TO_ULAW: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_compress(alaw_expand(i as u8));
        i += 1;
    }
    t
};

/// Encodes one linear sample as μ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[((sample >> 2) as i32 + 8192) as usize]
}

/// Decodes one μ-law code to a linear sample.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one linear sample as A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[((sample >> 4) as i32 + 2048) as usize]
}

/// Decodes one A-law code to a linear sample.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// The two G.711 laws, for code that handles either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// μ-law, RTP payload type 0 (PCMU).
    Ulaw,
    /// A-law, RTP payload type 8 (PCMA).
    Alaw,
}

impl Law {
    /// Decodes a G.711 payload into `out` (cleared first), one sample per byte.
    pub fn decode_into(self, payload: &[u8], out: &mut Vec<i16>) {
        out.clear();
        let table = match self {
            Law::Ulaw => &ULAW_DECODE,
            Law::Alaw => &ALAW_DECODE,
        };
        out.extend(payload.iter().map(|&c| table[c as usize]));
    }

    /// Decodes a G.711 payload into a new vector.
    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(payload.len());
        self.decode_into(payload, &mut out);
        out
    }

    /// Encodes linear samples into a new G.711 payload.
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Law::Ulaw => samples.iter().map(|&s| ulaw_encode(s)).collect(),
            Law::Alaw => samples.iter().map(|&s| alaw_encode(s)).collect(),
        }
    }

    /// Rewrites a payload of law `self` as law `to`, in place (same length: one byte a sample).
    pub fn transcode_in_place(self, to: Law, payload: &mut [u8]) {
        let table = match (self, to) {
            (Law::Ulaw, Law::Alaw) => &ULAW_TO_ALAW,
            (Law::Alaw, Law::Ulaw) => &ALAW_TO_ULAW,
            _ => return,
        };
        for b in payload {
            *b = table[*b as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // First entries of the published G.711 expansion tables (CCITT / Sun `g711.c`, which agree
    // with the ITU-T G.191 reference).
    const ULAW_FIRST: [i16; 8] = [
        -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
    ];
    const ALAW_FIRST: [i16; 8] = [-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736];

    #[test]
    fn ulaw_decodes_to_the_published_table_values() {
        for (code, want) in ULAW_FIRST.iter().enumerate() {
            assert_eq!(ulaw_decode(code as u8), *want, "code {code:#04x}");
        }
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x7E), -8);
        assert_eq!(ulaw_decode(0xFE), 8);
    }

    #[test]
    fn alaw_decodes_to_the_published_table_values() {
        for (code, want) in ALAW_FIRST.iter().enumerate() {
            assert_eq!(alaw_decode(code as u8), *want, "code {code:#04x}");
        }
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn silence_and_extremes_encode_to_the_standard_codes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn lookup_tables_match_the_reference_routine_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), ulaw_compress(s), "μ-law sample {s}");
            assert_eq!(alaw_encode(s), alaw_compress(s), "A-law sample {s}");
        }
    }

    #[test]
    fn every_alaw_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "code {code:#04x}");
        }
    }

    #[test]
    fn every_ulaw_code_survives_decode_then_encode_except_negative_zero() {
        for code in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(code));
            if code == 0x7F {
                // −0 and +0 both decode to 0, which encodes as +0.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic_and_quantisation_error_stays_within_one_step() {
        let mut prev_u = i32::MIN;
        let mut prev_a = i32::MIN;
        for s in i16::MIN..=i16::MAX {
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            assert!(u >= prev_u && a >= prev_a, "not monotonic at {s}");
            prev_u = u;
            prev_a = a;
            // The top segment's step is 1024 for both laws, so the error is at most half a step,
            // except where μ-law clips at its largest level (±32124, 644 short of i16::MIN).
            let err_u = (u - i32::from(s)).abs();
            let err_a = (a - i32::from(s)).abs();
            assert!(err_u <= 644, "μ-law error {err_u} at {s}");
            assert!(err_a <= 512, "A-law error {err_a} at {s}");
            // Small signals are coded finely: within 8 (μ) / 16 (A) near zero.
            if (-256..256).contains(&s) {
                assert!(err_u <= 8 && err_a <= 16, "coarse near zero at {s}");
            }
        }
    }

    #[test]
    fn transcoding_between_laws_matches_decode_then_encode() {
        for code in 0..=255u8 {
            let mut buf = [code];
            Law::Ulaw.transcode_in_place(Law::Alaw, &mut buf);
            assert_eq!(buf[0], alaw_encode(ulaw_decode(code)));
            let mut buf = [code];
            Law::Alaw.transcode_in_place(Law::Ulaw, &mut buf);
            assert_eq!(buf[0], ulaw_encode(alaw_decode(code)));
        }
    }

    #[test]
    fn payload_helpers_round_trip_a_tone() {
        let tone: Vec<i16> = (0..160)
            .map(|n| ((n as f64 * 0.3).sin() * 8000.0) as i16)
            .collect();
        for law in [Law::Ulaw, Law::Alaw] {
            let coded = law.encode(&tone);
            assert_eq!(coded.len(), 160);
            let back = law.decode(&coded);
            for (a, b) in tone.iter().zip(&back) {
                assert!(
                    (i32::from(*a) - i32::from(*b)).abs() <= 256,
                    "{law:?}: {a} vs {b}"
                );
            }
        }
    }
}
