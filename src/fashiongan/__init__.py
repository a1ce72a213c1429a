"""fashiongan: DCGANs on Fashion-MNIST, tuned against FID, tracked with MLflow, run by DVC."""

__version__ = "0.1.0"
