#!/usr/bin/env python3
"""Speech-embedding parity references: random-weight wav2vec 2.0, HuBERT and WavLM models built by
transformers, saved as Hugging Face folders (safetensors and pytorch_model.bin) and as
fairseq-layout `.pt` files, with every hidden state on espeak-ng speech.

Configurations (transformers config classes, reduced sizes unless named full):
- w2v-base: group-norm feature encoder, post-LN encoder, no conv bias (wav2vec2-base layout);
- w2v-large: layer-norm feature encoder with conv bias, pre-LN ("stable layer norm") encoder
  (wav2vec2-large-lv60 / XLS-R layout);
- w2v-base-full: the default Wav2Vec2Config (768-d, 12 layers), safetensors only;
- w2v-base-ctc: Wav2Vec2ForCTC on w2v-base's layout with the base-960h character vocabulary;
- hubert-base / hubert-large, wavlm-base / wavlm-large: the same two layouts for those families
  (HuBERT large and WavLM large have no conv bias, as their published configs).

Weights are the classes' own initialisation with every LayerNorm/GroupNorm affine, bias,
weight-norm magnitude and WavLM gate constant randomised (the defaults are identities and would
hide mistakes). The fairseq `.pt` renames the keys to fairseq's (unilm's for WavLM), adds
fairseq-only tensors (quantiser, final_proj, label embeddings) and the configuration as real
fairseq checkpoints carry it: an argparse.Namespace `args` (wav2vec2 base, as wav2vec_small.pt),
a plain-dict `cfg` with model/task sections (wav2vec2 large, HuBERT, the CTC model's
w2v_encoder layout) or unilm's flat `cfg` (WavLM).

Audio: espeak-ng sentences at 22.05 kHz, resampled to 16 kHz with librosa (soxr_hq) and saved as
16-bit WAV; the references take the decoded 16-bit samples. The 22.05 kHz originals exercise
earshot's resampler through the CLI; a 60-s file serves the chunking measurement.

Output: tests/data/generated/speech/ (git-ignored). Idempotent: skipped when the manifest's
fingerprint (this file and the transformers/torch versions) matches.
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "speech"

SENTENCES = {
    "hello": "Hello world. This is a short test of speech embeddings.",
    "quick": "The quick brown fox jumps over the lazy dog, while seven wizards box quickly.",
}
LONG_TEXT = (
    "Speech embeddings describe what is said and how. This recording is long on purpose, so that "
    "the model must run it in pieces and join the pieces again without a visible seam. "
) * 6

VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R", "D",
         "L", "U", "M", "W", "C", "F", "G", "Y", "P", "B", "V", "K", "'", "X", "J", "Q", "Z"]

SMALL = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128,
             conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
             hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
             layerdrop=0.0)
BASE = dict(feat_extract_norm="group", do_stable_layer_norm=False, conv_bias=False)
LARGE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)


def configs():
    from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig
    # name, family, config, do_normalize, save formats, fairseq config style
    return [
        ("w2v-base", "wav2vec2", Wav2Vec2Config(**SMALL, **BASE), True, ("safetensors", "bin"), "args"),
        ("w2v-large", "wav2vec2", Wav2Vec2Config(**SMALL, **LARGE), True, ("safetensors", "bin"), "cfg"),
        ("w2v-base-full", "wav2vec2", Wav2Vec2Config(**BASE, layerdrop=0.0), True, ("safetensors",), None),
        ("w2v-base-ctc", "wav2vec2-ctc", Wav2Vec2Config(**SMALL, **BASE, vocab_size=len(VOCAB)), True,
         ("safetensors",), "cfg"),
        ("hubert-base", "hubert", HubertConfig(**SMALL, **BASE), False, ("safetensors", "bin"), "cfg"),
        ("hubert-large", "hubert", HubertConfig(**SMALL, **dict(LARGE, conv_bias=False)), True,
         ("safetensors", "bin"), "cfg"),
        ("wavlm-base", "wavlm", WavLMConfig(**SMALL, **BASE, num_buckets=32, max_bucket_distance=40), False,
         ("safetensors", "bin"), "unilm"),
        ("wavlm-large", "wavlm", WavLMConfig(**SMALL, **dict(LARGE, conv_bias=False), num_buckets=32,
                                             max_bucket_distance=40), True, ("safetensors", "bin"), "unilm"),
    ]


def build(family, config):
    from transformers import HubertModel, Wav2Vec2ForCTC, Wav2Vec2Model, WavLMModel
    cls = {"wav2vec2": Wav2Vec2Model, "wav2vec2-ctc": Wav2Vec2ForCTC, "hubert": HubertModel,
           "wavlm": WavLMModel}[family]
    return cls(config).eval()


def randomise(model, gen):
    """Replace the identity initialisations so that every parameter matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "layer_norm" in name or "batch_norm" in name:
                if leaf == "weight":
                    p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif leaf == "bias":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            elif leaf in ("original0", "weight_g"):
                p.mul_(torch.rand(p.shape, generator=gen) * 0.8 + 0.6)
            elif leaf == "gru_rel_pos_const":
                p.copy_(torch.rand(p.shape, generator=gen) * 1.5 + 0.25)


def espeak(text, path):
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(path), text], check=True,
                   stdout=subprocess.DEVNULL)


def make_audio():
    import librosa
    import soundfile as sf
    clips = {}
    for stem, text in list(SENTENCES.items()) + [("long", LONG_TEXT)]:
        raw = OUT / f"{stem}_22k.wav"
        espeak(text, raw)
        wave, sr = sf.read(raw, dtype="float32")
        assert sr == 22050, sr
        if stem == "long":
            # Pad or trim to exactly 60 s at 16 kHz.
            w16 = librosa.resample(wave, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
            w16 = np.resize(w16, 60 * 16000) if len(w16) < 60 * 16000 else w16[: 60 * 16000]
        else:
            w16 = librosa.resample(wave, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
        path16 = OUT / f"{stem}_16k.wav"
        sf.write(path16, np.clip(w16, -1, 1), 16000, subtype="PCM_16")
        decoded, _ = sf.read(path16, dtype="int16")
        clips[stem] = decoded.astype(np.float32) / 32768.0
    return clips


def fairseq_key(hf_key, family, feat_extract_norm):
    """transformers' name → fairseq's (the inverse of transformers' conversion scripts)."""
    k = hf_key
    for prefix in ("wav2vec2.", "hubert.", "wavlm."):
        if k.startswith(prefix):
            k = k[len(prefix):]
    parts = k.split(".")
    if k.startswith("feature_extractor.conv_layers."):
        i, kind, leaf = parts[2], parts[3], parts[4]
        if kind == "conv":
            return f"feature_extractor.conv_layers.{i}.0.{leaf}"
        return f"feature_extractor.conv_layers.{i}.2.{leaf}" if feat_extract_norm == "group" \
            else f"feature_extractor.conv_layers.{i}.2.1.{leaf}"
    k = k.replace("feature_projection.layer_norm.", "layer_norm.")
    k = k.replace("feature_projection.projection.", "post_extract_proj.")
    k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original0", "encoder.pos_conv.0.weight_g")
    k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original1", "encoder.pos_conv.0.weight_v")
    k = k.replace("encoder.pos_conv_embed.conv.", "encoder.pos_conv.0.")
    k = k.replace(".attention.gru_rel_pos_linear.", ".self_attn.grep_linear.")
    k = k.replace(".attention.gru_rel_pos_const", ".self_attn.grep_a")
    k = k.replace(".attention.rel_attn_embed.", ".self_attn.relative_attention_bias.")
    k = k.replace(".attention.", ".self_attn.")
    k = k.replace(".feed_forward.intermediate_dense.", ".fc1.")
    k = k.replace(".feed_forward.output_dense.", ".fc2.")
    if ".layers." in k:
        k = k.replace(".layer_norm.", ".self_attn_layer_norm.")
    k = k.replace("masked_spec_embed", "mask_emb")
    if k.startswith("lm_head."):
        return "w2v_encoder.proj." + k[len("lm_head."):]
    return k


def conv_layers_string(c):
    return "[" + ", ".join(f"({d}, {k}, {s})" for d, k, s in zip(c.conv_dim, c.conv_kernel, c.conv_stride)) + "]"


def fairseq_model_cfg(c, family, do_normalize):
    m = dict(
        _name={"wavlm": "wavlm"}.get(family, "hubert" if family == "hubert" else "wav2vec2"),
        extractor_mode="default" if c.feat_extract_norm == "group" else "layer_norm",
        encoder_layers=c.num_hidden_layers, encoder_embed_dim=c.hidden_size,
        encoder_ffn_embed_dim=c.intermediate_size, encoder_attention_heads=c.num_attention_heads,
        activation_fn="gelu", dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
        encoder_layerdrop=0.05, dropout_input=0.1, dropout_features=0.1, final_dim=256,
        layer_norm_first=bool(c.do_stable_layer_norm), conv_feature_layers=conv_layers_string(c),
        conv_bias=bool(c.conv_bias), logit_temp=0.1, feature_grad_mult=0.1, mask_length=10,
        mask_prob=0.65, conv_pos=c.num_conv_pos_embeddings, conv_pos_groups=c.num_conv_pos_embedding_groups,
        latent_temp=[2.0, 0.5, 0.999995],
    )
    if family == "wavlm":
        m.update(relative_position_embedding=True, num_buckets=c.num_buckets, max_distance=c.max_bucket_distance,
                 gru_rel_pos=True, normalize=bool(do_normalize))
    return m


class FakeDictionary:
    """Stands in for fairseq.data.dictionary.Dictionary (HuBERT's task_state holds them)."""

    def __init__(self, symbols):
        self.symbols = list(symbols)
        self.count = [1] * len(symbols)
        self.indices = {s: i for i, s in enumerate(symbols)}
        self.bos_index, self.pad_index, self.eos_index, self.unk_index = 0, 1, 2, 3


def fake_fairseq_modules():
    """Make pickle write `fairseq.data.dictionary.Dictionary` without fairseq installed."""
    for name in ("fairseq", "fairseq.data", "fairseq.data.dictionary"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["fairseq.data.dictionary"].Dictionary = FakeDictionary
    FakeDictionary.__module__ = "fairseq.data.dictionary"
    FakeDictionary.__qualname__ = "Dictionary"
    FakeDictionary.__name__ = "Dictionary"


def write_fairseq(model, name, family, c, do_normalize, style, path, gen):
    sd = {}
    for k, v in model.state_dict().items():
        sd[fairseq_key(k, family, c.feat_extract_norm)] = v.clone()
    dim = c.hidden_size
    if family == "wav2vec2-ctc":
        sd = {("w2v_encoder.w2v_model." + k if not k.startswith("w2v_encoder.") else k): v for k, v in sd.items()}
    else:
        # Pretraining-only tensors a real checkpoint carries; the loader must skip them.
        sd["mask_emb"] = torch.rand(dim, generator=gen)
        sd["final_proj.weight"] = torch.randn(16, dim, generator=gen)
        sd["final_proj.bias"] = torch.randn(16, generator=gen)
        if family == "wav2vec2":
            sd["quantizer.vars"] = torch.randn(1, 40, 8, generator=gen)
            sd["quantizer.weight_proj.weight"] = torch.randn(40, c.conv_dim[-1], generator=gen)
            sd["quantizer.weight_proj.bias"] = torch.randn(40, generator=gen)
            sd["project_q.weight"] = torch.randn(16, 8, generator=gen)
            sd["project_q.bias"] = torch.randn(16, generator=gen)
        if family == "hubert":
            sd["label_embs_concat"] = torch.randn(504, 16, generator=gen)
    model_cfg = fairseq_model_cfg(c, "wav2vec2" if family == "wav2vec2-ctc" else family, do_normalize)
    task = dict(_name="audio_pretraining", data="/checkpoint/data", normalize=bool(do_normalize),
                sample_rate=16000, max_sample_size=250000, labels=None)
    extra = dict(train_iterator=dict(epoch=42, iterations_in_epoch=0, shuffle=True),
                 val_loss=3.14, best_loss=np.float64(2.71))
    history = [dict(criterion_name="Wav2vecCriterion", optimizer_name="FairseqAdam",
                    lr_scheduler_state=dict(best=2.71), num_updates=400000)]
    if style == "args":
        ns = argparse.Namespace(arch="wav2vec2", task="audio_pretraining", criterion="wav2vec",
                                **{k: v for k, v in model_cfg.items() if k != "_name"},
                                normalize=bool(do_normalize), sample_rate=16000, max_update=400000,
                                lr=[0.0005], optimizer="adam", adam_betas="(0.9,0.98)")
        ckpt = dict(args=ns, model=sd, optimizer_history=history, extra_state=extra, last_optimizer_state=None)
    elif style == "cfg":
        if family == "wav2vec2-ctc":
            w2v_args = dict(common=dict(seed=1), model=model_cfg, task=task)
            cfg = dict(common=dict(fp16=True, seed=1),
                       model=dict(_name="wav2vec_ctc", w2v_path="/checkpoint/wav2vec_small.pt", apply_mask=True,
                                  mask_prob=0.5, w2v_args=w2v_args, normalize=bool(do_normalize)),
                       task=dict(task, _name="audio_finetuning", labels="ltr"))
        else:
            cfg = dict(common=dict(fp16=True, seed=1337), model=model_cfg, task=task,
                       criterion=dict(_name="hubert" if family == "hubert" else "wav2vec"))
        ckpt = dict(args=None, cfg=cfg, model=sd, optimizer_history=history, extra_state=extra,
                    last_optimizer_state=None)
        if family == "hubert":
            fake_fairseq_modules()
            ckpt["task_state"] = dict(dictionaries=[FakeDictionary(["<s>", "<pad>", "</s>", "<unk>"] +
                                                                   [str(i) for i in range(100)])])
    else:  # unilm WavLM: flat WavLMConfig fields
        cfg = dict(model_cfg)
        cfg.pop("_name")
        ckpt = dict(cfg=cfg, model=sd)
    torch.save(ckpt, path)


def run_reference(model, family, wave, do_normalize):
    from transformers import Wav2Vec2FeatureExtractor
    fe = Wav2Vec2FeatureExtractor(do_normalize=do_normalize, return_attention_mask=False)
    inputs = fe(wave, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        out = model(inputs.input_values, output_hidden_states=True)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy()
    base = out if family != "wav2vec2-ctc" else None
    last = (out.hidden_states[-1] if base is None else out.last_hidden_state)[0].numpy()
    logits = out.logits[0].numpy() if family == "wav2vec2-ctc" else None
    return inputs.input_values[0].numpy(), hidden, last, logits


def fingerprint():
    import transformers
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(f"{torch.__version__} {transformers.__version__}".encode())
    return h.hexdigest()


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed (apt-get install espeak-ng)")
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.set_num_threads(2)
    clips = make_audio()
    entries = []
    for i, (name, family, config, do_normalize, formats, style) in enumerate(configs()):
        torch.manual_seed(1000 + i)
        gen = torch.Generator().manual_seed(2000 + i)
        model = build(family, config)
        randomise(model, gen)
        folder = OUT / name
        files = {}
        for fmt in formats:
            d = folder if fmt == "safetensors" else OUT / f"{name}-bin"
            model.save_pretrained(d, safe_serialization=(fmt == "safetensors"))
            fe = Wav2Vec2FeatureExtractor(do_normalize=do_normalize,
                                          return_attention_mask=config.feat_extract_norm == "layer")
            fe.save_pretrained(d)
            files[fmt] = d.name
        if family == "wav2vec2-ctc":
            (folder / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(VOCAB)}))
        if style is not None:
            pt = OUT / f"{name}.pt"
            write_fairseq(model, name, family, config, do_normalize, style, pt, gen)
            files["fairseq"] = pt.name
        results = []
        for stem, wave in clips.items():
            if stem == "long" or (name == "w2v-base-full" and stem != "hello"):
                continue
            np.save(OUT / f"input__{stem}.npy", wave)
            values, hidden, last, logits = run_reference(model, family, wave, do_normalize)
            r = dict(clip=stem, wav=f"{stem}_16k.wav", wav22=f"{stem}_22k.wav", input=f"input__{stem}.npy")
            np.save(OUT / f"{name}__{stem}__hidden.npy", hidden)
            np.save(OUT / f"{name}__{stem}__last.npy", last)
            r.update(hidden=f"{name}__{stem}__hidden.npy", last=f"{name}__{stem}__last.npy")
            if logits is not None:
                np.save(OUT / f"{name}__{stem}__logits.npy", logits)
                tok = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"))
                r.update(logits=f"{name}__{stem}__logits.npy",
                         text=tok.decode(logits.argmax(-1).tolist()))
            results.append(r)
            print(f"[gen] {name} {stem}: hidden {hidden.shape} std {hidden.std():.3f}")
        batch = None
        if config.feat_extract_norm == "layer":
            # Padded batch with an attention mask: the layer-norm layout supports it.
            fe = Wav2Vec2FeatureExtractor(do_normalize=do_normalize, return_attention_mask=True)
            waves = [clips["hello"], clips["quick"]]
            inputs = fe(waves, sampling_rate=16000, return_tensors="pt", padding=True)
            with torch.no_grad():
                out = model(inputs.input_values, attention_mask=inputs.attention_mask, output_hidden_states=True)
            hidden = torch.stack(out.hidden_states).numpy()  # (L+1, B, T, D)
            lengths = model._get_feat_extract_output_lengths(inputs.attention_mask.sum(-1)).tolist()
            batch = dict(clips=["hello", "quick"], frames=lengths, files=[])
            for b, n in enumerate(lengths):
                f = f"{name}__batch{b}__hidden.npy"
                np.save(OUT / f, np.ascontiguousarray(hidden[:, b, :n]))
                batch["files"].append(f)
        entries.append(dict(name=name, family=family, config=config.to_dict(), do_normalize=do_normalize,
                            files=files, results=results, batch=batch))
        del model
    manifest_path.write_text(json.dumps(dict(fingerprint=fp, torch=torch.__version__, models=entries), indent=1,
                                        default=str))
    print(f"[gen] wrote {len(entries)} speech references to {OUT}")


if __name__ == "__main__":
    main()
