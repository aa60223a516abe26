"""The domain: layers, their builders and the stores that keep them."""
