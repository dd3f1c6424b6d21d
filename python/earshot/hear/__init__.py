"""The HEAR 2021 API (https://hearbenchmark.com/hear-api.html) over earshot's models: one module
per family, each with ``load_model(model_file_path="")``, ``get_scene_embeddings(audio, model)``
and ``get_timestamp_embeddings(audio, model)`` on torch tensors (n_sounds, n_samples) in [-1, 1]
at ``model.sample_rate``.

    python -m hearvalidator earshot.hear.yamnet

Modules: ``panns`` (cnn14), ``passt`` (passt-s-f128-p16-s10-ap476), ``openl3``
(openl3-mel256-music-6144), ``yamnet`` (yamnet-w8a8, the weights scripts/setup.sh installs),
``wav2vec2`` (wav2vec2-base). ``model_file_path`` is the checkpoint in the authors' format;
empty means the cached download of the model (``earshot models fetch NAME``).
"""
