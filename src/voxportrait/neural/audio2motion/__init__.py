"""Neural DRIVE parts: speech -> motion with JoyVASA's diffusion transformer or AniPortrait's
audio2mesh/audio2pose.

Networks (``joyvasa``, ``audio2mesh``, ``audio2pose``) are kept apart from their samplers (``sampling``,
``schedule``); ``encoders`` builds the wav2vec2 / HuBERT speech encoders from a local folder; ``checkpoints``
reads and writes the published file formats; ``drivers`` turns them into ``types.Driver`` objects.
Importing this package does not import torch; its modules do.
"""
