"""Client and simulator for the Miraflow HTTP API."""
