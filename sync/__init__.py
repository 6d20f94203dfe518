"""The way out: the durable sighting queue, the register adapters and batch sync."""
