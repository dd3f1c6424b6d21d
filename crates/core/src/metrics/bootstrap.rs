//! The resampling behind DCASE's bootstrapped figures, as `sed_scores_eval.base_modules.bootstrap`
//! does it with numpy's legacy `RandomState`: fold lists from `RandomState(i).shuffle`, and
//! `confidence_interval` (mean and `numpy.percentile` bounds, linear interpolation).
//!
//! numpy's legacy generator is MT19937 seeded by `init_genrand(seed)`; `shuffle` on a list is
//! Fisher–Yates from the end, each index drawn by `random_interval(i)`: 32-bit words masked to
//! the smallest all-ones mask ≥ i, redrawn until ≤ i.

/// MT19937 (32-bit Mersenne Twister), as numpy's `RandomState` runs it.
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`: numpy's `RandomState(seed)` for an integer seed.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % 624] & LOWER);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// The next tempered 32-bit word (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// numpy's legacy `random_interval(max)`: uniform in [0, max] by masked rejection.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle(list)`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u32) as usize;
            items.swap(i, j);
        }
    }
}

/// The folds of `bootstrap_from_deltas` over `n` sorted ids: for each iteration i the id order
/// is shuffled in place by `RandomState(i)` (so iteration i shuffles iteration i − 1's order)
/// and fold j leaves out the ids between `split[j]` and `split[j + 1]`, with
/// `split = linspace(0, n, n_folds + 1).astype(int)`. Each fold lists indices into the sorted
/// ids, in the order the fold takes them.
pub fn folds(n: usize, n_folds: usize, n_iterations: usize) -> Vec<Vec<usize>> {
    let step = n as f64 / n_folds as f64;
    let split: Vec<usize> = (0..=n_folds)
        .map(|j| {
            if j == n_folds {
                n
            } else {
                (j as f64 * step) as usize
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut out = Vec::with_capacity(n_folds * n_iterations);
    for i in 0..n_iterations {
        Mt19937::new(i as u32).shuffle(&mut order);
        for j in 0..n_folds {
            let mut fold = order[..split[j]].to_vec();
            fold.extend_from_slice(&order[split[j + 1]..]);
            out.push(fold);
        }
    }
    out
}

/// `numpy.percentile(values, q)` with the default linear method.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let index = (q / 100.0) * (n - 1) as f64;
    let lower = (index.floor() as usize).min(n - 1);
    let upper = (lower + 1).min(n - 1);
    let t = index - lower as f64;
    let (a, b) = (v[lower], v[upper]);
    let diff = b - a;
    // numpy's _lerp: from below for t < 0.5, from above otherwise.
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// A bootstrapped figure: `confidence_interval(values, confidence)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Mean over the folds.
    pub mean: f64,
    /// Lower bound: the ((1 − confidence) / 2) percentile.
    pub low: f64,
    /// Upper bound: the (confidence + (1 − confidence) / 2) percentile.
    pub high: f64,
}

/// `sed_scores_eval.base_modules.bootstrap.confidence_interval`.
pub fn confidence_interval(values: &[f64], confidence: f64) -> Interval {
    let tail = (1.0 - confidence) / 2.0;
    Interval {
        mean: super::mean(values),
        low: percentile(values, tail * 100.0),
        high: percentile(values, (confidence + tail) * 100.0),
    }
}
