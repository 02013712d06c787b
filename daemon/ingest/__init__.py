"""tocsin."""
