//! A natural logarithm for the log front ends. glibc's `log` costs about 20 ns a call and was
//! the largest single cost of the small-FFT front ends (64 logs per 256-point frame for
//! `Cnn14_8k`) and of OpenL3 (50 000 per window). This one splits off the binary exponent and
//! evaluates `ln` of the mantissa in [√½, √2) with the atanh series to z⁸, without branches or
//! integer conversions, so that [`ln_floored`] vectorises (AVX2 + FMA, picked at run time):
//! relative error below 1e-13, far under the float32 rounding of the output. Inputs are the
//! front ends' floored energies, so they are always positive, finite and normal.

use std::f64::consts::{LN_2, SQRT_2};

/// `ln(x)` for positive, finite, normal `x`.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    debug_assert!(x.is_normal() && x > 0.0, "ln of {x}");
    let bits = x.to_bits();
    // The biased exponent as a float without an integer conversion (which SIMD lacks):
    // 2⁵² + k has k in its low mantissa bits.
    let biased = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - 4_503_599_627_370_496.0;
    // Mantissa in [1, 2); fold the upper part into [√½, 1) so that |s| ≤ 0.1716.
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let high = m > SQRT_2;
    let m = if high { m * 0.5 } else { m };
    let e = biased - 1023.0 + if high { 1.0 } else { 0.0 };
    // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1).
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let series = 1.0 / 3.0
        + z * (1.0 / 5.0
            + z * (1.0 / 7.0
                + z * (1.0 / 9.0
                    + z * (1.0 / 11.0 + z * (1.0 / 13.0 + z * (1.0 / 15.0 + z * (1.0 / 17.0)))))));
    2.0 * s + 2.0 * s * z * series + e * LN_2
}

/// `values[i] = ln(max(values[i], floor))` for a positive `floor`, vectorised (AVX2 and FMA
/// when the CPU has them, chosen at run time).
pub fn ln_floored(values: &mut [f64], floor: f64) {
    assert!(floor.is_normal() && floor > 0.0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features this copy was compiled for.
            unsafe { ln_floored_avx2(values, floor) };
            return;
        }
    }
    ln_floored_portable(values, floor);
}

#[inline(always)]
fn ln_floored_portable(values: &mut [f64], floor: f64) {
    for v in values {
        *v = ln(v.max(floor));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_floored_avx2(values: &mut [f64], floor: f64) {
    ln_floored_portable(values, floor);
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_the_standard_library() {
        let mut worst = 0.0f64;
        let mut x = 1e-12f64;
        while x < 1e12 {
            // Either side of the √2 fold, and across the mantissa range.
            let fold = std::f64::consts::SQRT_2;
            for v in [
                x,
                x * 1.000_000_1,
                x * fold * 0.999_999_9,
                x * fold,
                x * 1.9999,
            ] {
                let (ours, std) = (super::ln(v), v.ln());
                let err = (ours - std).abs() / std.abs().max(1e-3);
                worst = worst.max(err);
            }
            x *= 1.37;
        }
        assert!(worst < 1e-13, "relative error {worst:e}");
        assert_eq!(super::ln(1.0), 0.0);
        let mut xs: Vec<f64> = (0..1000).map(|i| (i as f64 - 100.0) * 0.37).collect();
        let want: Vec<f64> = xs.iter().map(|x| x.max(1e-10).ln()).collect();
        super::ln_floored(&mut xs, 1e-10);
        for (a, b) in xs.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-13 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}
