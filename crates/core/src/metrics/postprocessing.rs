//! Post-processing of frame-wise SED scores as `sed_scores_eval` 0.0.4 does it before a
//! post-processing-independent evaluation: the **continuous-time median filter** of
//! `base_modules/cy_medfilt.pyx` (`base_modules.postprocessing.medfilt`).
//!
//! The filter is not a sliding window over frames. The score track is a step function of time
//! (frame `i` holds its score from `timestamps[i]` to `timestamps[i + 1]`), padded with −∞ on
//! both sides, and a window of `L` seconds slides over it continuously. At every instant the
//! output is the median of the window: stack the pieces the window covers as bars ordered by
//! score, each as tall as its overlap with the window, and read the score at half height. The
//! output changes only where that median changes, so the result is again a step function, with
//! its own change points as frame boundaries (usually fewer frames than the input).
//!
//! Between two *breakpoints* (instants where an edge of the window crosses a frame boundary:
//! `timestamps ± L/2`, rounded to `time_decimals + 2`), the bar of the frame leaving shrinks and
//! the bar of the frame entering grows linearly, so the instant the median moves is found
//! exactly from the stacked overlaps. Bars are kept per distinct score (equal scores share one
//! bar), sorted ascending. The reference's tolerances are reproduced as it applies them:
//! `eps = 10^−(time_decimals+1)` in every comparison of times and heights, change points
//! rounded to `time_decimals`, a new output frame only where a change point lies more than
//! `eps` after the previous one, and the output timestamps rounded after adding `eps`.
//!
//! A filter length of 0 leaves the track as it is (the reference returns its input unchanged
//! when every class's length is 0, and re-emits the frames of a class whose length is 0).

use super::{round_to, MetricsError, Result};
use crate::datasets::dcase::ScoreTable;

/// `10 ** (-decimals - 1)` as Python computes it (correctly rounded, unlike repeated
/// multiplication).
fn tolerance(decimals: i32) -> f64 {
    format!("1e{}", -decimals - 1)
        .parse()
        .expect("a float literal")
}

/// A change of one class's filtered score: from `time` on, the class scores `score`.
#[derive(Debug, Clone, Copy)]
struct ChangePoint {
    time: f64,
    class: usize,
    score: f64,
}

/// The median filter of every class of `table`, each with its own filter length in seconds
/// (`lengths[class]`, or one length for all). `time_decimals` is sed_scores_eval's (6).
pub fn medfilt(table: &ScoreTable, lengths: &[f64], time_decimals: i32) -> Result<ScoreTable> {
    let n_classes = table.classes.len();
    let given = lengths;
    let lengths: Vec<f64> = match lengths {
        [one] => vec![*one; n_classes],
        many if many.len() == n_classes => many.to_vec(),
        many => {
            return Err(MetricsError::Shape(format!(
                "{}: {} median-filter lengths for {n_classes} classes",
                table.id,
                many.len()
            )))
        }
    };
    if let Some(bad) = lengths.iter().find(|l| !l.is_finite() || **l < 0.0) {
        return Err(MetricsError::Parameter(format!(
            "a median-filter length must be ≥ 0 seconds, got {bad}"
        )));
    }
    // One length of 0 (the reference's scalar 0) returns the table as it is; per-class lengths
    // that are all 0 still go through the assembly below, as there.
    if given == [0.0] {
        return Ok(table.clone());
    }
    let eps = tolerance(time_decimals);
    let mut changes = Vec::new();
    for (class, &length) in lengths.iter().enumerate() {
        let track = Track::new(table, class);
        if length == 0.0 {
            // Every frame boundary is a change point, the last one back to −∞.
            for i in 1..track.scores.len() {
                changes.push(ChangePoint {
                    time: track.times[i],
                    class,
                    score: track.scores[i],
                });
            }
        } else {
            track.filter(length, eps, time_decimals, class, &mut changes);
        }
    }
    Ok(assemble(table, changes, eps, time_decimals))
}

/// One class's score track padded with −∞ frames on both sides: `scores[0]` and the last are
/// −∞; frame `i` starts at `times[i]` (`times[0]` = −∞, the last = +∞).
struct Track {
    scores: Vec<f64>,
    times: Vec<f64>,
    /// The input's own frame boundaries.
    boundaries: Vec<f64>,
}

/// The pieces of the track the window covers, one bar per distinct score, ascending.
struct Bars {
    scores: Vec<f64>,
    heights: Vec<f64>,
}

impl Bars {
    /// The bar of `score` (`searchsorted`: the first bar not below it).
    fn find(&self, score: f64) -> usize {
        self.scores.partition_point(|&s| s < score)
    }
}

/// The median bar: its score and its lower and upper edge in the stack.
struct Median {
    score: f64,
    low: f64,
    up: f64,
}

impl Track {
    fn new(table: &ScoreTable, class: usize) -> Track {
        let frames = table.class_scores(class);
        let mut scores = Vec::with_capacity(frames.len() + 2);
        scores.push(f64::NEG_INFINITY);
        scores.extend_from_slice(frames);
        scores.push(f64::NEG_INFINITY);
        let mut times = Vec::with_capacity(table.timestamps.len() + 2);
        times.push(f64::NEG_INFINITY);
        times.extend_from_slice(&table.timestamps);
        times.push(f64::INFINITY);
        Track {
            scores,
            times,
            boundaries: table.timestamps.clone(),
        }
    }

    /// Slide a window of `length` seconds over the track; push each change of its median.
    fn filter(
        &self,
        length: f64,
        eps: f64,
        decimals: i32,
        class: usize,
        out: &mut Vec<ChangePoint>,
    ) {
        let half = length / 2.0;
        let mut breakpoints: Vec<f64> = (self.boundaries.iter().map(|t| t - half))
            .chain(self.boundaries.iter().map(|t| t + half))
            .map(|t| round_to(t, decimals + 2))
            .collect();
        breakpoints.sort_by(f64::total_cmp);
        let scores = &self.scores;
        // The window starts inside the left padding: one bar, all −∞.
        let mut bars = Bars {
            scores: vec![f64::NEG_INFINITY],
            heights: vec![length],
        };
        let mut median = Median {
            score: f64::NEG_INFINITY,
            low: 0.0,
            up: length,
        };
        // The frames the window overlaps: `first..last` (exclusive).
        let (mut first, mut last) = (0usize, 1usize);
        for pair in breakpoints.windows(2) {
            let t = pair[1];
            let moved = t - pair[0];
            if moved < eps {
                continue;
            }
            // The left edge passed the end of the first frame: it leaves the window.
            if self.times[first + 1] < t - half - eps {
                let b = bars.find(scores[first]);
                if bars.heights[b] < eps {
                    bars.scores.remove(b);
                    bars.heights.remove(b);
                }
                first += 1;
            }
            let b = bars.find(scores[first]);
            bars.heights[b] -= moved;
            // The right edge passed the start of the next frame: it enters the window.
            let b = if self.times[last] < t + half - eps {
                last += 1;
                let score = scores[last - 1];
                let b = bars.find(score);
                if b == bars.scores.len() || bars.scores[b] != score {
                    bars.scores.insert(b, score);
                    bars.heights.insert(b, 0.0);
                }
                b
            } else {
                bars.find(scores[last - 1])
            };
            bars.heights[b] += moved;
            if last == first + 1 {
                // The window lies inside one frame: nothing changes.
                continue;
            }
            // The median bar's edges move with the bars that shrank and grew below it.
            for (score, sign) in [(scores[first], -1.0), (scores[last - 1], 1.0)] {
                if score < median.score {
                    median.low += sign * moved;
                    median.up += sign * moved;
                } else if score == median.score {
                    median.up += sign * moved;
                }
            }
            if median.up < half - eps {
                // Half height is above the median bar now: walk up from the bottom.
                let mut sum = 0.0;
                let mut j = 0;
                while sum < half - eps && j < bars.scores.len() {
                    let below = sum;
                    sum += bars.heights[j];
                    if sum > median.up + eps {
                        if bars.scores[j] > median.score {
                            out.push(ChangePoint {
                                time: t - (half - below),
                                class,
                                score: bars.scores[j],
                            });
                        }
                        if sum >= half - eps {
                            median = Median {
                                score: bars.scores[j],
                                low: below,
                                up: sum,
                            };
                        }
                    }
                    j += 1;
                }
            }
            if median.low >= half - eps {
                // Half height is below the median bar: walk down from the top.
                let mut sum = 0.0;
                let mut j = bars.scores.len();
                while sum <= half - eps && j > 0 {
                    j -= 1;
                    let above = sum;
                    sum += bars.heights[j];
                    if sum > length - median.up + eps {
                        if bars.scores[j] < median.score {
                            out.push(ChangePoint {
                                time: t - (half - above),
                                class,
                                score: bars.scores[j],
                            });
                        }
                        if sum >= half - eps {
                            median = Median {
                                score: bars.scores[j],
                                low: length - sum,
                                up: length - above,
                            };
                        }
                    }
                }
            }
        }
    }
}

/// The change points of all classes, rounded and in time order, as a score table: a new frame
/// wherever a change point lies more than `eps` after the previous frame's start.
fn assemble(
    table: &ScoreTable,
    mut changes: Vec<ChangePoint>,
    eps: f64,
    decimals: i32,
) -> ScoreTable {
    let n_classes = table.classes.len();
    for c in &mut changes {
        c.time = round_to(c.time, decimals);
    }
    // The reference's argsort is not stable; one class never has two change points at one
    // rounded instant in practice, so the order among equal times does not show.
    changes.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut starts: Vec<f64> = Vec::new();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut current = vec![f64::NEG_INFINITY; n_classes];
    let mut at = f64::NEG_INFINITY;
    for c in &changes {
        if c.time > at + eps {
            starts.push(c.time);
            rows.push(current.clone());
            at = c.time;
        }
        current[c.class] = c.score;
    }
    let (timestamps, rows) = if rows.is_empty() {
        let ends = vec![
            table.timestamps[0],
            *table.timestamps.last().expect("frames"),
        ];
        (ends, vec![vec![f64::NEG_INFINITY; n_classes]])
    } else {
        // Row i holds the scores before starts[i]: the first row (all −∞) is dropped.
        rows.remove(0);
        let ts = starts.iter().map(|t| round_to(t + eps, decimals)).collect();
        (ts, rows)
    };
    let frames = rows.len();
    let mut scores = Vec::with_capacity(frames * n_classes);
    for c in 0..n_classes {
        scores.extend(rows.iter().map(|r| r[c]));
    }
    ScoreTable {
        id: table.id.clone(),
        timestamps,
        classes: table.classes.clone(),
        scores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(timestamps: &[f64], scores: &[f64]) -> ScoreTable {
        ScoreTable {
            id: "clip".into(),
            timestamps: timestamps.to_vec(),
            classes: vec!["a".into()],
            scores: scores.to_vec(),
        }
    }

    #[test]
    fn a_spike_shorter_than_half_the_window_is_removed() {
        // 0.1-s frames; one 0.1-s spike in a flat track, filtered over 0.5 s.
        let ts: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
        let mut s = vec![0.2; 10];
        s[5] = 0.9;
        let out = medfilt(&table(&ts, &s), &[0.5], 6).unwrap();
        assert!(out.scores.iter().all(|&v| v == 0.2), "{:?}", out.scores);
        assert_eq!(out.timestamps.first(), Some(&0.0));
        assert_eq!(out.timestamps.last(), Some(&1.0));
    }

    #[test]
    fn length_zero_is_the_identity_and_bad_lengths_are_refused() {
        let t = table(&[0.0, 0.5, 1.0], &[0.1, 0.7]);
        assert_eq!(medfilt(&t, &[0.0], 6).unwrap(), t);
        assert!(medfilt(&t, &[-1.0], 6).is_err());
        assert!(medfilt(&t, &[0.1, 0.2], 6).is_err());
    }
}
