"""The pose-specific pieces of test.py's scores: the PNG triplets it writes and reads back
(``triplets``), PCKh (``pckh``) and the conversion of the LPIPS weights (``convert_lpips_weights.py``,
a script). The scores themselves are gan/'s (SSIM, IS, FID, LPIPS); the detection score is ssd_score/.
Nothing here imports Keras at import time."""
