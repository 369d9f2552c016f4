"""Training and evaluation of DynaST for pose-guided people, edge-guided faces and style transfer.

Entry point: ``python -m train fit --config train/configs/<task>.yaml`` and
``python -m train evaluate --checkpoint DIR --task TASK --data PATH``; see docs/TRAINING.md.
"""
