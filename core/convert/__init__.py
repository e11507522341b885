"""Hugging Face encoder–decoder models onto our architecture spec (CTranslate2's converters).

``hf.py`` reads a local model folder (config, streamed tensors, generation defaults);
one small module per family maps its config onto ``ModelConfig`` and its tensor names
onto ``Transformer``'s; ``importer.py`` writes the bundle.
"""
