"""HEAR 2021 API for earshot's `passt-s-f128-p16-s10-ap476` (see earshot.hear)."""

from ._common import HearModel, get_scene_embeddings, get_timestamp_embeddings

__all__ = ["load_model", "get_scene_embeddings", "get_timestamp_embeddings"]


def load_model(model_file_path: str = "") -> HearModel:
    """`passt-s-f128-p16-s10-ap476`, from `model_file_path` (its checkpoint in the authors' format) or the cache."""
    return HearModel("passt-s-f128-p16-s10-ap476", model_file_path, sample_rate=48000)
