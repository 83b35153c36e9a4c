"""Job store, poller and delivery."""
