"""``python -m train evaluate``: warp quality (the paper's Table 1 left), SWD, FID when possible,
style-transfer content SSIM and style loss, and speed."""
