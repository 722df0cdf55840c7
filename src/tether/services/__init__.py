"""The service layer: use cases over the store, each within one transaction."""
