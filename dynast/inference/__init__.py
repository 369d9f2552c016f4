"""Inference in small modules: device and precision (:mod:`.runtime`), checkpoint lookup and
downloads (:mod:`.checkpoints`), the result and its match inspector (:mod:`.result`) and the
pipeline itself (:mod:`.pipeline`)."""
