"""Training data: image files, exemplar warps, semantics caches and one data set per layout."""
