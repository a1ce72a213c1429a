"""fashiongan: DCGANs on Fashion-MNIST, tuned against FID, tracked with MLflow, run by DVC."""

from fashiongan.logs import quiet_libraries

quiet_libraries()

__version__ = "0.1.0"
