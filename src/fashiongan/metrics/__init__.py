"""Metrics that decide which generator is better.

- ``frechet``: FID and KID on any feature set (numpy/scipy, float64).
- ``classifier``: the Fashion-MNIST classifier whose embedding defines ``fid_fashion``.
- ``real_stats``: cached real-image statistics and the protocol hash.
- ``diversity``: class coverage, class KL, precision/recall.
- ``evaluator``: ``FashionEvaluator``, the API training and sweeps call.
- ``inception``: the standard Inception FID (``fid_inception``): features and the distance.
- ``inception_net``: the FID Inception network and its input pipeline, in Keras.
- ``inception_weights``: the network's reference weights, read without torch and checksummed.
"""
