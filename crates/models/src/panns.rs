//! PANNs: the CNN family of Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for
//! Audio Pattern Recognition" (2020), as `audioset_tagging_cnn/pytorch/models.py`,
//! `panns_inference/models.py` and `panns_AT_inference/models.py` define them.
//!
//! Variables are named exactly as the authors' state dicts (`conv_block1.conv1.weight`,
//! `resnet.layer2.0.downsample.1.weight`, ...), so the official `*.pth` files load strictly
//! (their `model` sub-dict). The front end is the checkpoint's own: torchlibrosa's STFT as two
//! frozen conv1d layers (`spectrogram_extractor.stft.conv_real/conv_imag.weight`) after reflect
//! padding of n_fft/2, power spectrum, the stored Slaney mel matrix (`logmel_extractor.melW`) and
//! 10·log10(max(x, 1e-10)); running it in libtorch with those tensors reproduces the reference
//! bit for bit rather than approximately.
//!
//! For speed, loading then prepares the model for inference as engines do, changing outputs by
//! rounding only (≤ 2e-7 on CNN14's probabilities): every trunk BatchNorm is folded into the
//! convolution before it, 2-d convolution weights go channels-last (oneDNN's fastest layout),
//! and the STFT convolutions become an FFT when their kernels are the windowed DFT they always
//! are in published checkpoints ([`Panns::prepare_for_inference`]).
//!
//! Traps handled (backbones.md §1.9): time is dim 2 and mel dim 3, `bn0` normalises the mel bins
//! (transpose 1↔3 around it); pooling floors odd sizes; DecisionLevelMax's avg_pool1d counts the
//! zero padding; framewise output is each segment repeated 32× and then padded with the last
//! frame; MobileNets downsample with average pooling after stride-1 convolutions, and their
//! Sequential indices count the pool slots; MobileNetV2's stride pattern is not torchvision's.

use tch::nn;
use tch::{Kind, Tensor};

use earshot_core::registry::ModelSpec;

use crate::{ModelError, Result};

/// Architectures of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Four 5×5 conv blocks, 512-d embedding.
    Cnn6,
    /// Four 3×3 conv blocks, 512-d embedding.
    Cnn10,
    /// Six 3×3 conv blocks, 2048-d embedding (also the 16 kHz and 8 kHz variants).
    Cnn14,
    /// ResNet trunk [2,2,2,2] basic blocks.
    ResNet22,
    /// ResNet trunk [3,4,6,3] basic blocks.
    ResNet38,
    /// ResNet trunk [3,4,6,3] bottleneck blocks.
    ResNet54,
    /// MobileNetV1 trunk.
    MobileNetV1,
    /// MobileNetV2 trunk.
    MobileNetV2,
    /// Wavegram (learned 1-d front end) and log-mel branches, Cnn14 trunk.
    WavegramLogmelCnn14,
    /// Cnn14 trunk with framewise (segment-level max) output.
    Cnn14DecisionLevelMax,
    /// Cnn14 trunk with attention pooling over segments.
    Cnn14DecisionLevelAtt,
}

impl Arch {
    /// Parse the authors' class name (`Cnn14`, `Cnn14_16k`, `ResNet38`, ...).
    pub fn from_class_name(name: &str) -> Option<Arch> {
        Some(match name {
            "Cnn6" => Arch::Cnn6,
            "Cnn10" => Arch::Cnn10,
            "Cnn14" | "Cnn14_16k" | "Cnn14_8k" => Arch::Cnn14,
            "ResNet22" => Arch::ResNet22,
            "ResNet38" => Arch::ResNet38,
            "ResNet54" => Arch::ResNet54,
            "MobileNetV1" => Arch::MobileNetV1,
            "MobileNetV2" => Arch::MobileNetV2,
            "Wavegram_Logmel_Cnn14" => Arch::WavegramLogmelCnn14,
            "Cnn14_DecisionLevelMax" => Arch::Cnn14DecisionLevelMax,
            "Cnn14_DecisionLevelAtt" => Arch::Cnn14DecisionLevelAtt,
            _ => return None,
        })
    }

    /// How many times the trunk halves the time axis (pools and strides): the shortest input
    /// has 2^this frames, or a pool has nothing to pool.
    pub fn time_halvings(self) -> u32 {
        match self {
            Arch::Cnn6 | Arch::Cnn10 => 4,
            // The wavegram branch floors at each of its strides and pools and comes out a
            // frame short of the log-mel one, which then sets the length.
            Arch::WavegramLogmelCnn14 => 6,
            _ => 5,
        }
    }

    /// Whether the model gives framewise (sound event detection) output.
    pub fn is_sed(self) -> bool {
        matches!(
            self,
            Arch::Cnn14DecisionLevelMax | Arch::Cnn14DecisionLevelAtt
        )
    }
}

/// The constructor arguments of every PANNs class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Architecture.
    pub arch: Arch,
    /// Input sample rate.
    pub sample_rate: u32,
    /// FFT and window size.
    pub window_size: i64,
    /// Hop between frames.
    pub hop_size: i64,
    /// Mel bins (64 for every published model).
    pub mel_bins: i64,
    /// Lowest mel frequency.
    pub fmin: f64,
    /// Highest mel frequency.
    pub fmax: f64,
    /// Output classes (527 for AudioSet).
    pub classes_num: i64,
}

/// A card's `[arguments]`: the constructor arguments of `models.py`'s classes
/// (`Cnn14(sample_rate, window_size, hop_size, mel_bins, fmin, fmax, classes_num)`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    sample_rate: u32,
    window_size: i64,
    hop_size: i64,
    mel_bins: i64,
    fmin: f64,
    fmax: f64,
    classes_num: i64,
}

impl Config {
    /// 32 kHz, 1024/320, 64 mels 50–14000 Hz, 527 classes: the arguments of every published
    /// model but the 16 kHz and 8 kHz Cnn14 (which their cards give).
    pub fn new(arch: Arch) -> Self {
        Config {
            arch,
            sample_rate: 32000,
            window_size: 1024,
            hop_size: 320,
            mel_bins: 64,
            fmin: 50.0,
            fmax: 14000.0,
            classes_num: 527,
        }
    }

    /// The configuration a model card gives: its `architecture` (the authors' class name) and
    /// its `[arguments]`, the class's constructor arguments under the authors' names, every one
    /// required and no other accepted.
    pub fn from_spec(spec: &ModelSpec) -> Result<Config> {
        let arch = Arch::from_class_name(&spec.architecture).ok_or_else(|| {
            ModelError::Unsupported(format!(
                "model card {}: {:?} is not a PANNs class",
                spec.name, spec.architecture
            ))
        })?;
        let args: Arguments = crate::card_arguments(spec)?;
        Ok(Config {
            arch,
            sample_rate: args.sample_rate,
            window_size: args.window_size,
            hop_size: args.hop_size,
            mel_bins: args.mel_bins,
            fmin: args.fmin,
            fmax: args.fmax,
            classes_num: args.classes_num,
        })
    }

    /// Spectrogram frames for `samples` input samples (centred STFT).
    pub fn frames(&self, samples: i64) -> i64 {
        1 + samples / self.hop_size
    }
}

/// What a forward pass gives (eval mode).
#[derive(Debug)]
pub struct Output {
    /// (batch, classes) probabilities.
    pub clipwise: Tensor,
    /// (batch, dim) embedding, for tagging models.
    pub embedding: Option<Tensor>,
    /// (batch, frames, classes) probabilities, for the DecisionLevel models.
    pub framewise: Option<Tensor>,
}

fn conv2d(p: nn::Path, cin: i64, cout: i64, k: i64, pad: i64, groups: i64) -> nn::Conv2D {
    nn::conv2d(
        p,
        cin,
        cout,
        k,
        nn::ConvConfig {
            padding: pad,
            bias: false,
            groups,
            ..Default::default()
        },
    )
}

fn bn2d(p: nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm2d(p, c, Default::default())
}

/// BatchNorm's epsilon in every PANNs module (PyTorch's default, as `BatchNormConfig`'s).
const BN_EPS: f64 = 1e-5;

use super::ConvBn;

type ConvBn2 = ConvBn<[i64; 2]>;
type ConvBn1 = ConvBn<[i64; 1]>;

fn conv_bn(p: &nn::Path, conv: &str, bn: &str, cin: i64, cout: i64, k: i64, pad: i64) -> ConvBn2 {
    ConvBn::new(
        conv2d(p / conv, cin, cout, k, pad, 1),
        bn2d(p / bn, cout),
        BN_EPS,
    )
}

fn avg_pool(x: &Tensor, kh: i64, kw: i64) -> Tensor {
    if kh == 1 && kw == 1 {
        return x.shallow_clone();
    }
    x.avg_pool2d([kh, kw], [kh, kw], [0, 0], false, true, None::<i64>)
}

/// conv3x3 → BN → ReLU → conv3x3 → BN → ReLU → pool (`ConvBlock`).
#[derive(Debug)]
struct ConvBlock {
    c1: ConvBn2,
    c2: ConvBn2,
}

impl ConvBlock {
    fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        ConvBlock {
            c1: conv_bn(&p, "conv1", "bn1", cin, cout, 3, 1),
            c2: conv_bn(&p, "conv2", "bn2", cout, cout, 3, 1),
        }
    }

    fn forward(&self, x: &Tensor, pool: (i64, i64)) -> Tensor {
        let x = self.c1.forward(x).relu_();
        let x = self.c2.forward(&x).relu_();
        avg_pool(&x, pool.0, pool.1)
    }

    fn fuse(&mut self) {
        self.c1.fuse();
        self.c2.fuse();
    }
}

/// conv5x5 → BN → ReLU → pool (`ConvBlock5x5`, Cnn6).
#[derive(Debug)]
struct ConvBlock5x5 {
    c1: ConvBn2,
}

impl ConvBlock5x5 {
    fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        ConvBlock5x5 {
            c1: conv_bn(&p, "conv1", "bn1", cin, cout, 5, 2),
        }
    }

    fn forward(&self, x: &Tensor, pool: (i64, i64)) -> Tensor {
        avg_pool(&self.c1.forward(x).relu_(), pool.0, pool.1)
    }

    fn fuse(&mut self) {
        self.c1.fuse();
    }
}

/// torchlibrosa's Spectrogram + LogmelFilterBank with the checkpoint's frozen tensors.
#[derive(Debug)]
struct LogMel {
    conv_real: Tensor,
    conv_imag: Tensor,
    mel_w: Tensor,
    n_fft: i64,
    hop: i64,
    /// The analysis window, when the checkpoint's kernels are a windowed DFT (see
    /// [`LogMel::use_fft`]).
    fft_window: Option<Tensor>,
}

impl LogMel {
    fn new(p: &nn::Path, cfg: &Config) -> Self {
        let bins = cfg.window_size / 2 + 1;
        let stft = p / "spectrogram_extractor" / "stft";
        let zeros = nn::Init::Const(0.0);
        LogMel {
            conv_real: (&stft / "conv_real").var("weight", &[bins, 1, cfg.window_size], zeros),
            conv_imag: (&stft / "conv_imag").var("weight", &[bins, 1, cfg.window_size], zeros),
            mel_w: (p / "logmel_extractor").var("melW", &[bins, cfg.mel_bins], zeros),
            n_fft: cfg.window_size,
            hop: cfg.hop_size,
            fft_window: None,
        }
    }

    /// torchlibrosa stores its STFT as two convolutions whose kernels are cos and −sin of the
    /// DFT times the window (periodic Hann in every published checkpoint). When the loaded
    /// kernels are exactly that (to 1e-6 of their largest value) for the window in bin 0, take
    /// the spectrum from an FFT instead: the same numbers to rounding, for a fortieth of the
    /// work of the 2×513-channel convolution (5 % of a CNN14 forward pass). Any other kernels
    /// keep the convolution.
    fn use_fft(&mut self) {
        let _guard = tch::no_grad_guard();
        let (n, device) = (self.n_fft, self.conv_real.device());
        let bins = self.conv_real.size()[0];
        let real = self.conv_real.squeeze_dim(1).to_kind(Kind::Double);
        let imag = self.conv_imag.squeeze_dim(1).to_kind(Kind::Double);
        let window = real.get(0);
        // k·t mod n keeps the angles exact before the scaling by 2π/n.
        let k = Tensor::arange(bins, (Kind::Int64, device)).unsqueeze(1);
        let t = Tensor::arange(n, (Kind::Int64, device)).unsqueeze(0);
        let angle =
            (k * t).remainder(n).to_kind(Kind::Double) * (2.0 * std::f64::consts::PI / n as f64);
        let err = |got: &Tensor, want: Tensor| {
            f64::try_from((got - want).abs().max()).unwrap_or(f64::INFINITY)
        };
        let scale = f64::try_from(window.abs().max()).unwrap_or(0.0);
        let worst = err(&real, angle.cos() * &window).max(err(&imag, -angle.sin() * &window));
        if scale > 0.0 && worst <= 1e-6 * scale {
            self.fft_window = Some(window.to_kind(Kind::Float));
        }
    }

    /// (batch, samples) → (batch, 1, frames, mel) in dB, in float32 at any precision.
    fn forward(&self, wave: &Tensor) -> Tensor {
        crate::device::full_precision(|| self.forward_f32(wave))
    }

    fn forward_f32(&self, wave: &Tensor) -> Tensor {
        let x = wave
            .unsqueeze(1)
            .reflection_pad1d([self.n_fft / 2, self.n_fft / 2]);
        // (batch, 1, frames, bins), as torchlibrosa lays it out.
        let power = match &self.fft_window {
            Some(window) => x
                .squeeze_dim(1)
                .stft(
                    self.n_fft,
                    self.hop,
                    self.n_fft,
                    Some(window),
                    false,
                    true,
                    true,
                    false,
                )
                .view_as_real()
                .pow_tensor_scalar(2)
                .sum_dim_intlist([-1i64].as_slice(), false, Kind::Float)
                .unsqueeze(1)
                .transpose(2, 3),
            None => {
                let real = x.conv1d(&self.conv_real, None::<Tensor>, [self.hop], [0], [1], 1);
                let imag = x.conv1d(&self.conv_imag, None::<Tensor>, [self.hop], [0], [1], 1);
                let real = real.unsqueeze(1).transpose(2, 3);
                let imag = imag.unsqueeze(1).transpose(2, 3);
                real.pow_tensor_scalar(2) + imag.pow_tensor_scalar(2)
            }
        };
        let mel = power.matmul(&self.mel_w);
        mel.clamp_min(1e-10).log10() * 10.0
    }
}

/// A ResNet block's main path starts by average-pooling its input when it strides.
fn strided_input(x: &Tensor, stride: i64) -> Tensor {
    if stride == 2 {
        avg_pool(x, 2, 2)
    } else {
        x.shallow_clone()
    }
}

/// A ResNet block's shortcut: the original input, or its projection (whose own pool handles
/// the stride).
fn shortcut(downsample: Option<&Downsample>, x: &Tensor) -> Tensor {
    downsample.map_or_else(|| x.shallow_clone(), |d| d.forward(x))
}

/// ResNet basic block (`_ResnetBasicBlock`): stride 2 average-pools the input first.
#[derive(Debug)]
struct BasicBlock {
    stride: i64,
    c1: ConvBn2,
    c2: ConvBn2,
    downsample: Option<Downsample>,
}

/// Shortcut projection: [AvgPool2d(2),] conv1x1, BN — keys `downsample.{1,2}` with the pool,
/// `downsample.{0,1}` without.
#[derive(Debug)]
struct Downsample {
    pool: bool,
    proj: ConvBn2,
}

impl Downsample {
    fn new(p: nn::Path, cin: i64, cout: i64, stride: i64) -> Self {
        let pool = stride == 2;
        let (ci, bi) = if pool { ("1", "2") } else { ("0", "1") };
        Downsample {
            pool,
            proj: conv_bn(&p, ci, bi, cin, cout, 1, 0),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = if self.pool {
            avg_pool(x, 2, 2)
        } else {
            x.shallow_clone()
        };
        self.proj.forward(&x)
    }

    fn fuse(&mut self) {
        self.proj.fuse();
    }
}

impl BasicBlock {
    fn new(
        p: nn::Path,
        cin: i64,
        planes: i64,
        stride: i64,
        downsample: Option<Downsample>,
    ) -> Self {
        BasicBlock {
            stride,
            c1: conv_bn(&p, "conv1", "bn1", cin, planes, 3, 1),
            c2: conv_bn(&p, "conv2", "bn2", planes, planes, 3, 1),
            downsample,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let out = strided_input(x, self.stride);
        let out = self.c1.forward(&out).relu_();
        let out = self.c2.forward(&out);
        (out + shortcut(self.downsample.as_ref(), x)).relu_()
    }

    fn fuse(&mut self) {
        self.c1.fuse();
        self.c2.fuse();
        self.downsample.iter_mut().for_each(Downsample::fuse);
    }
}

/// ResNet bottleneck block (`_ResnetBottleneck`, expansion 4).
#[derive(Debug)]
struct Bottleneck {
    stride: i64,
    c1: ConvBn2,
    c2: ConvBn2,
    c3: ConvBn2,
    downsample: Option<Downsample>,
}

impl Bottleneck {
    fn new(
        p: nn::Path,
        cin: i64,
        planes: i64,
        stride: i64,
        downsample: Option<Downsample>,
    ) -> Self {
        Bottleneck {
            stride,
            c1: conv_bn(&p, "conv1", "bn1", cin, planes, 1, 0),
            c2: conv_bn(&p, "conv2", "bn2", planes, planes, 3, 1),
            c3: conv_bn(&p, "conv3", "bn3", planes, planes * 4, 1, 0),
            downsample,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let out = strided_input(x, self.stride);
        let out = self.c1.forward(&out).relu_();
        let out = self.c2.forward(&out).relu_();
        let out = self.c3.forward(&out);
        (out + shortcut(self.downsample.as_ref(), x)).relu_()
    }

    fn fuse(&mut self) {
        self.c1.fuse();
        self.c2.fuse();
        self.c3.fuse();
        self.downsample.iter_mut().for_each(Downsample::fuse);
    }
}

// Built once per model; variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum ResBlock {
    Basic(BasicBlock),
    Bottleneck(Bottleneck),
}

/// `_ResNet`: layer1..layer4 with planes 64/128/256/512 and strides 1/2/2/2.
#[derive(Debug)]
struct ResNet {
    layers: Vec<Vec<ResBlock>>,
}

impl ResNet {
    fn new(p: nn::Path, counts: [i64; 4], bottleneck: bool) -> Self {
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inplanes = 64;
        let mut layers = Vec::new();
        for (li, (&n, planes)) in counts.iter().zip([64i64, 128, 256, 512]).enumerate() {
            let stride = if li == 0 { 1 } else { 2 };
            let lp = &p / format!("layer{}", li + 1);
            let mut blocks = Vec::new();
            for bi in 0..n {
                let bp = &lp / bi;
                let (s, cin) = if bi == 0 {
                    (stride, inplanes)
                } else {
                    (1, planes * expansion)
                };
                let downsample = (bi == 0 && (stride != 1 || inplanes != planes * expansion))
                    .then(|| Downsample::new(&bp / "downsample", cin, planes * expansion, s));
                blocks.push(if bottleneck {
                    ResBlock::Bottleneck(Bottleneck::new(bp, cin, planes, s, downsample))
                } else {
                    ResBlock::Basic(BasicBlock::new(bp, cin, planes, s, downsample))
                });
            }
            inplanes = planes * expansion;
            layers.push(blocks);
        }
        ResNet { layers }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut x = x.shallow_clone();
        for layer in &self.layers {
            for block in layer {
                x = match block {
                    ResBlock::Basic(b) => b.forward(&x),
                    ResBlock::Bottleneck(b) => b.forward(&x),
                };
            }
        }
        x
    }

    fn fuse(&mut self) {
        for block in self.layers.iter_mut().flatten() {
            match block {
                ResBlock::Basic(b) => b.fuse(),
                ResBlock::Bottleneck(b) => b.fuse(),
            }
        }
    }
}

/// A layer of a MobileNet `features` Sequential.
#[derive(Debug)]
enum MobileLayer {
    /// conv → pool → BN → ReLU (conv_bn), or the depthwise-separable pair (conv_dw) / inverted
    /// residual, as a list of (conv, pool stride, BN, activation) steps.
    Steps {
        steps: Vec<MobileStep>,
        residual: bool,
    },
}

#[derive(Debug)]
struct MobileStep {
    conv: ConvBn2,
    pool: i64,
    act: Act,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    None,
    Relu,
    Relu6,
}

impl MobileStep {
    /// A conv at index `ci`, an optional pool slot, BN at index `bi`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        ci: usize,
        bi: usize,
        cin: i64,
        cout: i64,
        k: i64,
        groups: i64,
        pool: i64,
        act: Act,
    ) -> Self {
        MobileStep {
            conv: ConvBn::new(
                conv2d(p / ci, cin, cout, k, k / 2, groups),
                bn2d(p / bi, cout),
                BN_EPS,
            ),
            pool,
            act,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = self
            .conv
            .forward_with(x, |y| avg_pool(&y, self.pool, self.pool));
        match self.act {
            Act::None => x,
            Act::Relu => x.relu(),
            Act::Relu6 => x.clamp(0.0, 6.0),
        }
    }
}

impl MobileLayer {
    fn forward(&self, x: &Tensor) -> Tensor {
        let MobileLayer::Steps { steps, residual } = self;
        let mut y = x.shallow_clone();
        for s in steps {
            y = s.forward(&y);
        }
        if *residual {
            x + y
        } else {
            y
        }
    }

    fn fuse(&mut self) {
        let MobileLayer::Steps { steps, .. } = self;
        steps.iter_mut().for_each(|s| s.conv.fuse());
    }
}

fn mobilenet_v1(p: &nn::Path) -> Vec<MobileLayer> {
    let f = p / "features";
    // conv_bn(1, 32, 2): [conv3x3, AvgPool2d(2), BN, ReLU] → indices 0 and 2.
    let mut layers = vec![MobileLayer::Steps {
        steps: vec![MobileStep::new(&(&f / 0), 0, 2, 1, 32, 3, 1, 2, Act::Relu)],
        residual: false,
    }];
    let plan: [(i64, i64, i64); 13] = [
        (32, 64, 1),
        (64, 128, 2),
        (128, 128, 1),
        (128, 256, 2),
        (256, 256, 1),
        (256, 512, 2),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 1024, 2),
        (1024, 1024, 1),
    ];
    for (i, &(cin, cout, s)) in plan.iter().enumerate() {
        // conv_dw: [dw3x3, AvgPool2d(s), BN, ReLU, conv1x1, BN, ReLU] → indices 0, 2, 4, 5.
        let lp = &f / (i + 1);
        layers.push(MobileLayer::Steps {
            steps: vec![
                MobileStep::new(&lp, 0, 2, cin, cin, 3, cin, s, Act::Relu),
                MobileStep::new(&lp, 4, 5, cin, cout, 1, 1, 1, Act::Relu),
            ],
            residual: false,
        });
    }
    layers
}

fn mobilenet_v2(p: &nn::Path) -> Vec<MobileLayer> {
    let f = p / "features";
    let mut layers = vec![MobileLayer::Steps {
        steps: vec![MobileStep::new(&(&f / 0), 0, 2, 1, 32, 3, 1, 2, Act::Relu6)],
        residual: false,
    }];
    // (expansion t, channels c, repeats n, stride s) as the authors set them.
    let settings: [(i64, i64, i64, i64); 7] = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 2),
        (6, 160, 3, 1),
        (6, 320, 1, 1),
    ];
    let mut cin = 32;
    let mut index = 1;
    for &(t, c, n, s) in &settings {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let hidden = cin * t;
            let lp = &f / index / "conv";
            let steps = if t == 1 {
                // [dw3x3, AvgPool(s), BN, ReLU6, conv1x1, BN] → 0, 2, 4, 5.
                vec![
                    MobileStep::new(&lp, 0, 2, hidden, hidden, 3, hidden, stride, Act::Relu6),
                    MobileStep::new(&lp, 4, 5, hidden, c, 1, 1, 1, Act::None),
                ]
            } else {
                // [conv1x1, BN, ReLU6, dw3x3, AvgPool(s), BN, ReLU6, conv1x1, BN] → 0/1, 3/5, 7/8.
                vec![
                    MobileStep::new(&lp, 0, 1, cin, hidden, 1, 1, 1, Act::Relu6),
                    MobileStep::new(&lp, 3, 5, hidden, hidden, 3, hidden, stride, Act::Relu6),
                    MobileStep::new(&lp, 7, 8, hidden, c, 1, 1, 1, Act::None),
                ]
            };
            layers.push(MobileLayer::Steps {
                steps,
                residual: stride == 1 && cin == c,
            });
            cin = c;
            index += 1;
        }
    }
    // conv_1x1_bn(320, 1280): [conv1x1, BN, ReLU6] → 0, 1.
    layers.push(MobileLayer::Steps {
        steps: vec![MobileStep::new(
            &(&f / index),
            0,
            1,
            cin,
            1280,
            1,
            1,
            1,
            Act::Relu6,
        )],
        residual: false,
    });
    layers
}

/// `ConvPreWavBlock`: conv1d k3 → BN → ReLU → conv1d k3 dilation 2 → BN → ReLU → max-pool.
#[derive(Debug)]
struct PreWavBlock {
    c1: ConvBn1,
    c2: ConvBn1,
}

impl PreWavBlock {
    fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        let c1 = nn::ConvConfig {
            padding: 1,
            bias: false,
            ..Default::default()
        };
        let c2 = nn::ConvConfig {
            padding: 2,
            dilation: 2,
            bias: false,
            ..Default::default()
        };
        PreWavBlock {
            c1: ConvBn::new(
                nn::conv1d(&p / "conv1", cin, cout, 3, c1),
                nn::batch_norm1d(&p / "bn1", cout, Default::default()),
                BN_EPS,
            ),
            c2: ConvBn::new(
                nn::conv1d(&p / "conv2", cout, cout, 3, c2),
                nn::batch_norm1d(&p / "bn2", cout, Default::default()),
                BN_EPS,
            ),
        }
    }

    fn forward(&self, x: &Tensor, pool: i64) -> Tensor {
        let x = self.c1.forward(x).relu_();
        let x = self.c2.forward(&x).relu_();
        x.max_pool1d([pool], [pool], [0], [1], false)
    }

    fn fuse(&mut self) {
        self.c1.fuse();
        self.c2.fuse();
    }
}

/// The wavegram branch of Wavegram_Logmel_Cnn14.
#[derive(Debug)]
struct Wavegram {
    pre0: ConvBn1,
    blocks: [PreWavBlock; 3],
    pre_block4: ConvBlock,
}

impl Wavegram {
    fn new(p: &nn::Path) -> Self {
        let cfg = nn::ConvConfig {
            stride: 5,
            padding: 5,
            bias: false,
            ..Default::default()
        };
        Wavegram {
            pre0: ConvBn::new(
                nn::conv1d(p / "pre_conv0", 1, 64, 11, cfg),
                nn::batch_norm1d(p / "pre_bn0", 64, Default::default()),
                BN_EPS,
            ),
            blocks: [
                PreWavBlock::new(p / "pre_block1", 64, 64),
                PreWavBlock::new(p / "pre_block2", 64, 128),
                PreWavBlock::new(p / "pre_block3", 128, 128),
            ],
            pre_block4: ConvBlock::new(p / "pre_block4", 4, 64),
        }
    }

    fn forward(&self, wave: &Tensor) -> Tensor {
        let mut a = self.pre0.forward(&wave.unsqueeze(1)).relu_();
        for b in &self.blocks {
            a = b.forward(&a, 4);
        }
        let (batch, len) = (a.size()[0], a.size()[2]);
        let a = a.reshape([batch, -1, 32, len]).transpose(2, 3);
        self.pre_block4.forward(&a, (2, 1))
    }

    fn fuse(&mut self) {
        self.pre0.fuse();
        self.blocks.iter_mut().for_each(PreWavBlock::fuse);
        self.pre_block4.fuse();
    }
}

/// Attention pooling (`AttBlock`) of Cnn14_DecisionLevelAtt. Its `bn_att` is in the state dict
/// but never used by the authors' forward pass; it is kept so the checkpoint loads strictly.
#[derive(Debug)]
struct AttBlock {
    att: nn::Conv1D,
    cla: nn::Conv1D,
    _bn_att: nn::BatchNorm,
}

impl AttBlock {
    fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        AttBlock {
            att: nn::conv1d(&p / "att", cin, cout, 1, Default::default()),
            cla: nn::conv1d(&p / "cla", cin, cout, 1, Default::default()),
            _bn_att: nn::batch_norm1d(&p / "bn_att", cout, Default::default()),
        }
    }

    /// (batch, channels, time) → (clipwise, segmentwise (batch, classes, time)).
    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let norm_att = x
            .apply(&self.att)
            .clamp(-10.0, 10.0)
            .softmax(-1, Kind::Float);
        let cla = x.apply(&self.cla).sigmoid();
        let clip = (&norm_att * &cla).sum_dim_intlist([2i64].as_slice(), false, Kind::Float);
        (clip, cla)
    }
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Trunk {
    Cnn {
        blocks: Vec<ConvBlock>,
    },
    Cnn6 {
        blocks: Vec<ConvBlock5x5>,
    },
    ResNet {
        conv_block1: ConvBlock,
        resnet: ResNet,
        conv_block_after1: ConvBlock,
    },
    Mobile {
        layers: Vec<MobileLayer>,
    },
    Wavegram {
        wavegram: Wavegram,
        blocks: Vec<ConvBlock>,
    },
}

/// A PANNs model in eval mode.
#[derive(Debug)]
pub struct Panns {
    cfg: Config,
    logmel: LogMel,
    bn0: nn::BatchNorm,
    trunk: Trunk,
    fc1: nn::Linear,
    fc_audioset: Option<nn::Linear>,
    att_block: Option<AttBlock>,
}

fn conv_blocks(p: &nn::Path, channels: &[i64]) -> Vec<ConvBlock> {
    channels
        .windows(2)
        .enumerate()
        .map(|(i, w)| ConvBlock::new(p / format!("conv_block{}", i + 1), w[0], w[1]))
        .collect()
}

/// Checkpoint keys the models do not use: BatchNorm step counters.
pub const IGNORED_KEYS: &[&str] = &["*.num_batches_tracked"];

impl Panns {
    /// Build the model's variables under `p`, named as the authors' state dict.
    pub fn new(p: &nn::Path, cfg: &Config) -> Self {
        let classes = cfg.classes_num;
        let (trunk, width) = match cfg.arch {
            Arch::Cnn14 | Arch::Cnn14DecisionLevelMax | Arch::Cnn14DecisionLevelAtt => (
                Trunk::Cnn {
                    blocks: conv_blocks(p, &[1, 64, 128, 256, 512, 1024, 2048]),
                },
                2048,
            ),
            Arch::Cnn10 => (
                Trunk::Cnn {
                    blocks: conv_blocks(p, &[1, 64, 128, 256, 512]),
                },
                512,
            ),
            Arch::Cnn6 => {
                let blocks = [1i64, 64, 128, 256, 512]
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| ConvBlock5x5::new(p / format!("conv_block{}", i + 1), w[0], w[1]))
                    .collect();
                (Trunk::Cnn6 { blocks }, 512)
            }
            Arch::ResNet22 | Arch::ResNet38 | Arch::ResNet54 => {
                let (counts, bottleneck) = match cfg.arch {
                    Arch::ResNet22 => ([2, 2, 2, 2], false),
                    Arch::ResNet38 => ([3, 4, 6, 3], false),
                    _ => ([3, 4, 6, 3], true),
                };
                let after_in = if bottleneck { 2048 } else { 512 };
                (
                    Trunk::ResNet {
                        conv_block1: ConvBlock::new(p / "conv_block1", 1, 64),
                        resnet: ResNet::new(p / "resnet", counts, bottleneck),
                        conv_block_after1: ConvBlock::new(p / "conv_block_after1", after_in, 2048),
                    },
                    2048,
                )
            }
            Arch::MobileNetV1 => (
                Trunk::Mobile {
                    layers: mobilenet_v1(p),
                },
                1024,
            ),
            Arch::MobileNetV2 => (
                Trunk::Mobile {
                    layers: mobilenet_v2(p),
                },
                1280,
            ),
            Arch::WavegramLogmelCnn14 => {
                let mut blocks = vec![ConvBlock::new(p / "conv_block1", 1, 64)];
                for (i, w) in [128i64, 128, 256, 512, 1024, 2048].windows(2).enumerate() {
                    blocks.push(ConvBlock::new(
                        p / format!("conv_block{}", i + 2),
                        w[0],
                        w[1],
                    ));
                }
                (
                    Trunk::Wavegram {
                        wavegram: Wavegram::new(p),
                        blocks,
                    },
                    2048,
                )
            }
        };
        let hidden = match cfg.arch {
            Arch::MobileNetV1 | Arch::MobileNetV2 => 1024,
            _ => width,
        };
        let att = cfg.arch == Arch::Cnn14DecisionLevelAtt;
        Panns {
            cfg: *cfg,
            logmel: LogMel::new(p, cfg),
            bn0: bn2d(p / "bn0", cfg.mel_bins),
            trunk,
            fc1: nn::linear(p / "fc1", width, hidden, Default::default()),
            fc_audioset: (!att)
                .then(|| nn::linear(p / "fc_audioset", hidden, classes, Default::default())),
            att_block: att.then(|| AttBlock::new(p / "att_block", hidden, classes)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// After the checkpoint is loaded: fold every trunk BatchNorm into its convolution (`bn0`,
    /// on the input features, stays) and take the spectrum from an FFT where the STFT kernels
    /// allow it. The outputs change by rounding only.
    pub fn prepare_for_inference(&mut self) {
        self.logmel.use_fft();
        match &mut self.trunk {
            Trunk::Cnn { blocks } => blocks.iter_mut().for_each(ConvBlock::fuse),
            Trunk::Cnn6 { blocks } => blocks.iter_mut().for_each(ConvBlock5x5::fuse),
            Trunk::ResNet {
                conv_block1,
                resnet,
                conv_block_after1,
            } => {
                conv_block1.fuse();
                resnet.fuse();
                conv_block_after1.fuse();
            }
            Trunk::Mobile { layers } => layers.iter_mut().for_each(MobileLayer::fuse),
            Trunk::Wavegram { wavegram, blocks } => {
                wavegram.fuse();
                blocks.iter_mut().for_each(ConvBlock::fuse);
            }
        }
    }

    /// Log-mel features after `bn0`: (batch, 1, frames, mel).
    pub fn features(&self, wave: &Tensor) -> Tensor {
        let x = self.logmel.forward(wave);
        x.transpose(1, 3).apply_t(&self.bn0, false).transpose(1, 3)
    }

    /// Log-mel spectrogram in dB (before `bn0`): (batch, frames, mel).
    pub fn logmel(&self, wave: &Tensor) -> Tensor {
        self.logmel.forward(wave).squeeze_dim(1)
    }

    /// The trunk: (batch, channels, time', freq').
    fn trunk(&self, wave: &Tensor, x: &Tensor) -> Tensor {
        match &self.trunk {
            Trunk::Cnn { blocks } => {
                let last = blocks.len() - 1;
                let mut x = x.shallow_clone();
                for (i, b) in blocks.iter().enumerate() {
                    x = b.forward(
                        &x,
                        if i == last && blocks.len() == 6 {
                            (1, 1)
                        } else {
                            (2, 2)
                        },
                    );
                }
                x
            }
            Trunk::Cnn6 { blocks } => blocks
                .iter()
                .fold(x.shallow_clone(), |x, b| b.forward(&x, (2, 2))),
            Trunk::ResNet {
                conv_block1,
                resnet,
                conv_block_after1,
            } => {
                let x = conv_block1.forward(x, (2, 2));
                let x = avg_pool(&resnet.forward(&x), 2, 2);
                conv_block_after1.forward(&x, (1, 1))
            }
            Trunk::Mobile { layers } => layers.iter().fold(x.shallow_clone(), |x, l| l.forward(&x)),
            Trunk::Wavegram { wavegram, blocks } => {
                let a = wavegram.forward(wave);
                let mut x = blocks[0].forward(x, (2, 2));
                // The two branches agree in length for whole multiples of 2·hop samples; the
                // reference raises otherwise, we keep the common part.
                let t = x.size()[2].min(a.size()[2]);
                x = Tensor::cat(&[x.narrow(2, 0, t), a.narrow(2, 0, t)], 1);
                let last = blocks.len() - 1;
                for (i, b) in blocks.iter().enumerate().skip(1) {
                    x = b.forward(&x, if i == last { (1, 1) } else { (2, 2) });
                }
                x
            }
        }
    }

    /// Forward pass on (batch, samples) at the model's sample rate.
    pub fn forward(&self, wave: &Tensor) -> Output {
        let features = self.features(wave);
        let frames = features.size()[2];
        let x = self
            .trunk(wave, &features)
            .mean_dim([3i64].as_slice(), false, Kind::Float);
        match self.cfg.arch {
            Arch::Cnn14DecisionLevelMax | Arch::Cnn14DecisionLevelAtt => {
                let pooled = x.max_pool1d([3], [1], [1], [1], false)
                    + x.avg_pool1d([3], [1], [1], false, true);
                let (clipwise, segmentwise) = match &self.att_block {
                    None => {
                        let h = pooled.transpose(1, 2).apply(&self.fc1).relu();
                        let seg = h
                            .apply(self.fc_audioset.as_ref().expect("tagging head"))
                            .sigmoid();
                        (seg.amax([1i64].as_slice(), false), seg)
                    }
                    Some(att) => {
                        let h = pooled
                            .transpose(1, 2)
                            .apply(&self.fc1)
                            .relu()
                            .transpose(1, 2);
                        let (clip, seg) = att.forward(&h);
                        (clip, seg.transpose(1, 2))
                    }
                };
                Output {
                    clipwise,
                    embedding: None,
                    framewise: Some(framewise(&segmentwise, frames)),
                }
            }
            _ => {
                let x = x.amax([2i64].as_slice(), false)
                    + x.mean_dim([2i64].as_slice(), false, Kind::Float);
                let h = x.apply(&self.fc1).relu();
                let clipwise = h
                    .apply(self.fc_audioset.as_ref().expect("tagging head"))
                    .sigmoid();
                Output {
                    clipwise,
                    embedding: Some(h),
                    framewise: None,
                }
            }
        }
    }
}

/// Segment-level (batch, segments, classes) → frame-level (batch, frames, classes): each segment
/// repeated 32× (the trunk's time reduction), then padded with the last frame (panns_inference
/// `Interpolator` + `pad_framewise_output`).
pub fn framewise(segmentwise: &Tensor, frames: i64) -> Tensor {
    let up = segmentwise.repeat_interleave_self_int(32, Some(1), None::<i64>);
    let have = up.size()[1];
    match have.cmp(&frames) {
        std::cmp::Ordering::Less => {
            let last = up.narrow(1, have - 1, 1).repeat([1, frames - have, 1]);
            Tensor::cat(&[up, last], 1)
        }
        std::cmp::Ordering::Equal => up,
        std::cmp::Ordering::Greater => up.narrow(1, 0, frames),
    }
}

/// A model with its weights.
pub struct LoadedPanns {
    /// Owns the variables.
    pub vs: nn::VarStore,
    /// The network.
    pub model: Panns,
}

/// Build `cfg`'s model on `device` and load an authors' checkpoint strictly: the `model`
/// sub-dict of `{'model', 'iteration', 'sampler'}` files, or a flat state dict.
pub fn load(
    path: &std::path::Path,
    cfg: &Config,
    device: tch::Device,
) -> crate::Result<LoadedPanns> {
    let ckpt = earshot_core::checkpoint::load(path)?;
    let ckpt = if ckpt.tensors.iter().any(|(n, _)| n.starts_with("model.")) {
        ckpt.select("model.")
    } else {
        ckpt
    };
    let mut vs = nn::VarStore::new(device);
    let mut model = Panns::new(&vs.root(), cfg);
    crate::strict::load_into(&mut vs, &ckpt, IGNORED_KEYS)?;
    drop(ckpt);
    vs.freeze();
    model.prepare_for_inference();
    Ok(LoadedPanns { vs, model })
}

impl super::AudioModel for LoadedPanns {
    fn sample_rate(&self) -> u32 {
        self.model.config().sample_rate
    }

    /// The reflect padding needs more than n_fft/2 samples, and the trunk 2^halvings frames.
    fn min_samples(&self) -> usize {
        self.model.config().min_samples()
    }

    fn classes(&self) -> usize {
        self.model.config().classes_num as usize
    }

    fn run_batch(&self, clips: &[&[f32]]) -> super::Result<Vec<earshot_core::outputs::ClipOutput>> {
        let wave = super::batch_tensor(clips, self.min_samples(), self.vs.device())?;
        let out = tch::no_grad(|| self.model.forward(&wave));
        let clipwise = super::tensor_rows(&out.clipwise)?;
        let rows = |t: &Option<Tensor>| -> super::Result<Vec<Option<Vec<f32>>>> {
            Ok(match t {
                Some(t) => super::tensor_rows(t)?.into_iter().map(Some).collect(),
                None => vec![None; clips.len()],
            })
        };
        let duration = clips[0].len() as f64 / self.sample_rate() as f64;
        Ok(clipwise
            .into_iter()
            .zip(rows(&out.embedding)?)
            .zip(rows(&out.framewise)?)
            .map(
                |((clipwise, embedding), framewise)| earshot_core::outputs::ClipOutput {
                    duration,
                    clipwise,
                    embedding,
                    framewise,
                    frame_hop: self.frame_hop(),
                },
            )
            .collect())
    }

    fn is_sed(&self) -> bool {
        self.model.config().arch.is_sed()
    }

    fn frame_hop(&self) -> f64 {
        let cfg = self.model.config();
        cfg.hop_size as f64 / cfg.sample_rate as f64
    }

    fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        let cfg = self.model.config();
        Some(earshot_core::outputs::MelBand {
            low: cfg.fmin,
            high: cfg.fmax,
            htk: false,
        })
    }

    fn logmel(&self, samples: &[f32]) -> super::Result<(Vec<f32>, usize)> {
        let wave = Tensor::from_slice(samples)
            .unsqueeze(0)
            .to_device(self.vs.device());
        let mel = tch::no_grad(|| self.model.logmel(&wave)).squeeze_dim(0);
        let bins = mel.size()[1] as usize;
        Ok((
            Vec::<f32>::try_from(mel.to_device(tch::Device::Cpu).flatten(0, -1))?,
            bins,
        ))
    }
}

impl Config {
    /// The shortest input in samples: more than n_fft/2 for the reflect padding, and enough
    /// frames (one per hop, plus one) for every pool of the trunk.
    pub fn min_samples(&self) -> usize {
        let frames = 1usize << self.arch.time_halvings();
        (self.window_size as usize / 2 + 1).max((frames - 1) * self.hop_size as usize)
    }
}

/// The deterministic weights of the seeded parity check (`tests/dev/panns_seeded.py` writes the
/// reference outputs of the authors' classes under the same scheme): every tensor is a sine of
/// its element index with a phase from an FNV-1a hash of its name, scaled by its role.
pub fn seeded_values(name: &str, shape: &[i64]) -> Vec<f32> {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let phase = (hash % 1000) as f64 / 1000.0 * std::f64::consts::TAU;
    let numel: i64 = shape.iter().product();
    let fan_in = if shape.len() >= 2 {
        (numel / shape[0]).max(1) as f64
    } else {
        1.0
    };
    (0..numel)
        .map(|i| {
            let s = (0.7 * i as f64 + phase).sin();
            let v = if name.ends_with("running_var") {
                1.0 + 0.5 * s * s
            } else if name.ends_with("running_mean") {
                0.1 * s
            } else if name.ends_with("melW") {
                0.02 * s.abs() + 1e-3
            } else if name.contains("conv_real") || name.contains("conv_imag") {
                0.05 * s
            } else if shape.len() >= 2 {
                s / fan_in.sqrt()
            } else if name.ends_with("weight") {
                1.0 + 0.2 * s
            } else {
                0.1 * s
            };
            v as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHS: [Arch; 11] = [
        Arch::Cnn6,
        Arch::Cnn10,
        Arch::Cnn14,
        Arch::ResNet22,
        Arch::ResNet38,
        Arch::ResNet54,
        Arch::MobileNetV1,
        Arch::MobileNetV2,
        Arch::WavegramLogmelCnn14,
        Arch::Cnn14DecisionLevelMax,
        Arch::Cnn14DecisionLevelAtt,
    ];

    /// BN statistics and affine terms away from identity; STFT kernels either the Hann-windowed
    /// DFT (as published checkpoints hold) or random; a random mel matrix.
    fn randomise(vs: &nn::VarStore, cfg: &Config, dft: bool) {
        let _guard = tch::no_grad_guard();
        let (n, bins) = (cfg.window_size, cfg.window_size / 2 + 1);
        let angle = (Tensor::arange(bins, (Kind::Int64, tch::Device::Cpu)).unsqueeze(1)
            * Tensor::arange(n, (Kind::Int64, tch::Device::Cpu)).unsqueeze(0))
        .remainder(n)
        .to_kind(Kind::Double)
            * (2.0 * std::f64::consts::PI / n as f64);
        let hann = Tensor::hann_window(n, (Kind::Double, tch::Device::Cpu));
        for (name, mut t) in vs.variables() {
            let new = if name.ends_with("running_var") {
                t.rand_like() + 0.5
            } else if name.ends_with("running_mean")
                || name.contains("bn") && name.ends_with("bias")
            {
                t.randn_like() * 0.1
            } else if name.contains("bn") && name.ends_with("weight") {
                t.randn_like() * 0.1 + 0.5
            } else if name.ends_with("melW") {
                t.rand_like() * 0.05
            } else if name.contains("conv_real") || name.contains("conv_imag") {
                if dft {
                    let basis = if name.contains("conv_real") {
                        angle.cos()
                    } else {
                        -angle.sin()
                    };
                    (basis * &hann).to_kind(Kind::Float).unsqueeze(1)
                } else {
                    t.randn_like() * 0.03
                }
            } else {
                continue;
            };
            t.copy_(&new);
        }
    }

    fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
        let scale = f64::try_from(a.abs().max()).unwrap().max(1e-12);
        f64::try_from((a - b).abs().max()).unwrap() / scale
    }

    /// Folding the BatchNorms (and the FFT front end) changes no architecture's outputs beyond
    /// rounding, including the MobileNets' BN after a pool and the Wavegram's 1-d blocks.
    #[test]
    fn prepared_models_match_the_layer_by_layer_forward() {
        tch::manual_seed(7);
        tch::set_num_threads(1);
        let wave = Tensor::randn([2, 16000], (Kind::Float, tch::Device::Cpu)) * 0.1;
        for (i, arch) in ARCHS.into_iter().enumerate() {
            let cfg = Config::new(arch);
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let mut model = Panns::new(&vs.root(), &cfg);
            let dft = i % 2 == 0;
            randomise(&vs, &cfg, dft);
            let before = tch::no_grad(|| model.forward(&wave));
            model.prepare_for_inference();
            assert_eq!(model.logmel.fft_window.is_some(), dft, "{arch:?}");
            let after = tch::no_grad(|| model.forward(&wave));
            let mut worst = rel_diff(&before.clipwise, &after.clipwise);
            for (a, b) in [
                (&before.embedding, &after.embedding),
                (&before.framewise, &after.framewise),
            ] {
                if let (Some(a), Some(b)) = (a, b) {
                    worst = worst.max(rel_diff(a, b));
                }
            }
            assert!(worst < 1e-5, "{arch:?}: relative difference {worst:.2e}");
            // The shortest input runs.
            let short = Tensor::randn(
                [1, cfg.min_samples() as i64],
                (Kind::Float, tch::Device::Cpu),
            );
            let out = tch::no_grad(|| model.forward(&short));
            assert_eq!(out.clipwise.size()[1], cfg.classes_num, "{arch:?}");
        }
    }
}
