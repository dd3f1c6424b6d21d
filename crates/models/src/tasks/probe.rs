//! A linear probe: multinomial logistic regression on frozen embeddings, the way HEAR and the
//! ESC-50 / TAU embedding evaluations score an embedding for clip classification.
//!
//! Features are standardised with the training set's mean and standard deviation; weights start
//! at zero and train full-batch with Adam on cross-entropy plus an L2 penalty, for a fixed number
//! of steps, so a run is deterministic on the same machine.

use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// Optimiser steps (full batch).
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// L2 penalty on the weights.
    pub l2: f64,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            steps: 500,
            learning_rate: 1e-2,
            l2: 1e-3,
        }
    }
}

/// A trained probe.
pub struct Probe {
    mean: Tensor,
    std: Tensor,
    weight: Tensor,
    bias: Tensor,
    _vs: nn::VarStore,
}

/// Rows of equal length as a (rows, dim) float tensor.
pub(crate) fn matrix(rows: &[Vec<f32>]) -> Tensor {
    let dim = rows.first().map_or(0, Vec::len) as i64;
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, dim])
}

impl Probe {
    /// Train on `features` (one row per clip, equal lengths) with integer `labels` < `classes`.
    pub fn train(
        features: &[Vec<f32>],
        labels: &[usize],
        classes: usize,
        options: ProbeOptions,
    ) -> Result<Probe, tch::TchError> {
        let x = matrix(features);
        let dim = x.size()[1];
        let mean = x.mean_dim([0i64].as_slice(), true, Kind::Float);
        let std = x.std_dim([0i64].as_slice(), false, true).clamp_min(1e-6);
        let x = (&x - &mean) / &std;
        let y = Tensor::from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let weight = vs.root().zeros("weight", &[dim, classes as i64]);
        let bias = vs.root().zeros("bias", &[classes as i64]);
        let mut opt = nn::Adam::default().build(&vs, options.learning_rate)?;
        for _ in 0..options.steps {
            let logits = x.matmul(&weight) + &bias;
            let loss = logits.cross_entropy_for_logits(&y)
                + weight.pow_tensor_scalar(2).sum(Kind::Float) * options.l2;
            opt.backward_step(&loss);
        }
        Ok(Probe {
            mean,
            std,
            weight,
            bias,
            _vs: vs,
        })
    }

    /// Class probabilities of each row of `features`.
    pub fn predict(&self, features: &[Vec<f32>]) -> Result<Vec<Vec<f64>>, tch::TchError> {
        let x = (matrix(features) - &self.mean) / &self.std;
        let p = tch::no_grad(|| (x.matmul(&self.weight) + &self.bias).softmax(-1, Kind::Double));
        (0..p.size()[0])
            .map(|i| Vec::<f64>::try_from(p.get(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_clusters_are_learned() {
        // Three well-separated clusters in 4-d: the probe must classify held-out points.
        let centre =
            |c: usize| -> Vec<f32> { (0..4).map(|d| if d == c { 5.0 } else { 0.0 }).collect() };
        let jitter = |i: usize, d: usize| ((i * 7 + d * 13) % 11) as f32 / 11.0 - 0.5;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 3;
            x.push(
                centre(c)
                    .iter()
                    .enumerate()
                    .map(|(d, v)| v + jitter(i, d))
                    .collect(),
            );
            y.push(c);
        }
        let probe = Probe::train(&x, &y, 3, ProbeOptions::default()).unwrap();
        let test: Vec<Vec<f32>> = (0..3).map(centre).collect();
        let p = probe.predict(&test).unwrap();
        for (c, row) in p.iter().enumerate() {
            let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(best, c, "{row:?}");
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}
