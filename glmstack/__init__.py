"""glmstack: provision bare-metal machines to serve GLM models with pyinfra."""

__version__ = "0.1.0"
