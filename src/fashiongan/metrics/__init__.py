"""Metrics that decide which generator is better.

- ``frechet``: FID and KID on any feature set (numpy/scipy, float64).
- ``classifier``: the Fashion-MNIST classifier whose embedding defines ``fid_fashion``.
- ``real_stats``: cached real-image statistics and the protocol hash.
- ``diversity``: class coverage, class KL, precision/recall.
- ``evaluator``: ``FashionEvaluator``, the API training and sweeps call.
- ``inception``: the standard Inception FID (``fid_inception``).
"""
