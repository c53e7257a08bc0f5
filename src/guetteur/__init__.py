"""Guetteur: an open-source SIEM. Collect, normalise to ECS, detect with Sigma, alert, investigate."""

__version__ = "0.1.0"
